from django.contrib import admin
from django.urls import path
from django.views.generic import TemplateView

from sessions_app.views import (admin_link, api, call_monitor, chat_watch, cloud_api, recordings, reports, sdk,
                                try_it, wallboard, wallboard_actions, widget, workbench)

urlpatterns = [
    path("admin/wallboard/", wallboard.page, name="wallboard"),
    path("admin/chats/<str:session_id>/", chat_watch.page, name="chat-watch"),
    path("admin/calls/<str:session_id>/monitor/", call_monitor.page, name="call-monitor"),
    path("admin/wallboard/<str:kind>/<str:target_id>/menu/", wallboard_actions.menu, name="wallboard-menu"),
    path("admin/wallboard/<str:kind>/<str:target_id>/<str:action>/", wallboard_actions.act, name="wallboard-act"),
    path("admin/reports/", admin.site.admin_view(reports.page), name="reports"),
    path("admin/reports/<slug:table>.csv", admin.site.admin_view(reports.csv_export), name="reports-csv"),
    path("admin/link/<str:token>/", admin_link.sign_in, name="admin-link"),
    path("admin/", admin.site.urls),
    path("sdk/tccc.js", sdk.sdk_js, name="sdk-js"),
    path("widget/chat.js", widget.chat_js, name="widget-chat-js"),
    path("widget/call.js", widget.call_js, name="widget-call-js"),
    path("workbench/", workbench.standalone, name="workbench"),
    path("workbench/embed/", workbench.embedded, name="workbench-embed"),
    path("workbench/login/", workbench.WorkbenchLoginView.as_view(), name="workbench-login"),
    path("workbench/logout/", workbench.logout, name="workbench-logout"),
    path("api/sdk-login-token", api.sdk_login_token, name="sdk-login-token"),
    path("api/sessions", api.create_session, name="session-create"),
    path("api/sessions/<str:session_id>", api.read_session, name="session-read"),
    path("api/sessions/<str:session_id>/end", api.end_session, name="session-end"),
    path("recordings/<str:session_id>.ogg", recordings.recording_file, name="recording-file"),
    path("api/openapi.yaml", TemplateView.as_view(template_name="openapi.yaml", content_type="application/yaml"),
         name="openapi"),
    path("try/", try_it.try_it, name="try-it"),
    path("", cloud_api.root, name="home"),
]

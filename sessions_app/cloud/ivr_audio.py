"""IVR audio: UploadIvrAudio (the server fetches each URL, checks it is audio, stores it for prompts) and
DescribeIvrAudioList (`services/ivr_audio.py`)."""
from __future__ import annotations

from ..services import ivr_audio
from .actions import Call, action
from .protocol import INVALID_PARAMETER_VALUE, CloudError

MAX_FILES = 20  # per request; Tencent's daily limit (50) applies across requests
STATUS_APPROVED = 1  # Tencent reviews uploads (0 unreviewed, 1 approved, 2 refused); ours are usable at once


def _file_info(audio) -> dict:
    return {"FileId": audio.pk, "CustomFileName": audio.custom_file_name,
            "AudioFileName": ivr_audio.file_name(audio), "Status": STATUS_APPROVED}


@action("UploadIvrAudio", own_transactions=True, slow=True)
def upload_ivr_audio(call: Call) -> dict:
    uploads = [ivr_audio.Upload(custom_file_name=item.string("CustomFileName", required=True, max_length=255),
                                url=item.string("AudioUrl", required=True, max_length=2048))
               for item in call.params.objects("AudioList", required=True, max_items=MAX_FILES)]
    if not uploads:
        raise CloudError(INVALID_PARAMETER_VALUE, "The value of `AudioList` must name at least one file.")
    try:
        stored = ivr_audio.upload(call.tenant, uploads)
    except ivr_audio.BadAudio as bad:
        raise CloudError(INVALID_PARAMETER_VALUE, str(bad)) from None
    return {"FailedFileList": [], "SuccessFileList": [_file_info(audio) for audio in stored]}


@action("DescribeIvrAudioList")
def describe_ivr_audio_list(call: Call) -> dict:
    params = call.params
    page_size = params.integer("PageSize", 20, minimum=1, maximum=50)
    page_number = params.integer("PageNumber", 0, minimum=0, maximum=10**9)
    total, rows = ivr_audio.describe(
        call.tenant, offset=page_size * page_number, limit=page_size,
        custom_file_names=params.strings("CustomFileName", max_length=255),
        audio_file_names=params.strings("AudioFileName", max_length=255),
        file_ids=params.integers("FileId"))
    return {"TotalCount": total, "FileInfo": [_file_info(audio) for audio in rows]}

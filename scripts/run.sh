#!/usr/bin/env bash
# Run the product on this machine: venv, install, migrate, demo data, then daphne on 127.0.0.1:$PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
# espeak-ng speaks the IVR's prompts.
if ! dpkg -s espeak-ng >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null
fi
bash scripts/setup-venv.sh requirements.txt
export PORT=${PORT:-8000}
export SIP_PORT=${SIP_PORT:-5060} SIP_HOST=${SIP_HOST:-127.0.0.1}
.venv/bin/python manage.py migrate --noinput -v0
if [ "${DJANGO_ENV:-}" = production ]; then
  # No demo tenant in production mode (its secrets are public); browsers reach the server through the TLS proxy.
  echo "Contact center on ${PUBLIC_URL:-the https address of the TLS proxy} (production mode; daphne on 127.0.0.1:$PORT)"
else
  demo=$(.venv/bin/python manage.py seed_demo | tail -n 1)
  cat <<MSG

  Contact center on http://127.0.0.1:$PORT/
  Try it:      http://127.0.0.1:$PORT/try/   be the customer: chat or call the demo company
  Supervisors: http://127.0.0.1:$PORT/admin/   user admin, password ${DEMO_PASSWORD:-demo-password} (unless changed since)
  Agents:      http://127.0.0.1:$PORT/workbench/   agent1@demo (or agent2@demo, agent3@demo), same password
  SIP trunk:   sip:008675586013388@$SIP_HOST:$SIP_PORT (UDP/TCP) reaches the demo hotline and its IVR
  Demo tenant: $demo
  SDK login token for an agent: .venv/bin/python manage.py sdk_token agent1@demo

MSG
fi
if [ -n "${REDIS_URL:-}" ]; then
  # With Redis, web calls' media runs in worker processes of its own (README, "Scaling out").
  workers=()
  for n in $(seq "${MEDIA_WORKERS:-1}"); do
    # The first worker also runs the SIP gateway: phone calls live on it.
    .venv/bin/python manage.py media_worker $([ "$n" = 1 ] && echo --sip) & workers+=($!)
  done
  trap 'kill "${workers[@]}" 2>/dev/null; wait' EXIT
  .venv/bin/daphne -b 127.0.0.1 -p "$PORT" workbench.asgi:application
else
  exec .venv/bin/daphne -b 127.0.0.1 -p "$PORT" workbench.asgi:application
fi

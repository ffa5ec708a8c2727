"""The media layer: WebRTC legs (aiortc) bridged by a back-to-back user agent.

Each leg (an agent's or a customer's browser) is its own peer connection. Every sender carries one
never-ending `SwitchAudioTrack`/`SwitchVideoTrack`; bridging, transfer, hold and mute only re-point what
those tracks read (`call.Call.rewire`), so nobody is renegotiated. Inbound tracks are always drained
(`tap.Tap`). The engine (`engine.MediaEngine`) is driven by commands; it runs off the web event loop, on a
thread of its own (`embedded.py`) or in a media worker process (`remote.py`, started by `manage.py media_worker`).
"""

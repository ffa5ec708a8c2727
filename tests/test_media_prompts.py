"""IVR prompts: spoken once per text by espeak-ng, read at any rate, and played by a leg's switch track
ahead of any other source, telling when they end."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from sessions_app.media import prompts, sounds
from sessions_app.media.switch import SwitchAudioTrack

pytestmark = pytest.mark.service


def test_a_spoken_prompt_is_made_once_and_read_at_the_rate_asked(tmp_path):
    first = prompts.spoken("For support, press 1.", tmp_path)
    assert prompts.spoken("For support, press 1.", tmp_path) == first
    assert len(list(tmp_path.iterdir())) == 1
    narrow, wide = prompts.samples(first, 8000), prompts.samples(first, 48000)
    assert 0.8 < len(narrow) / 8000 < 3.0 and abs(len(wide) / 48000 - len(narrow) / 8000) < 0.01
    assert np.abs(narrow).max() > 3000  # speech, not silence


def test_an_unreadable_prompt_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    try:
        prompts.samples(broken, 8000)
    except prompts.PromptError as error:
        assert "broken.wav cannot be read" in str(error)
    else:
        raise AssertionError("an unreadable file was read")


async def test_a_switch_plays_a_prompt_ahead_of_the_music_then_says_it_is_done():
    track = SwitchAudioTrack(sounds.AudioFormat(8000, 1))
    track.play("music")
    done = asyncio.Event()
    prompt = np.full(400, 1234, dtype=np.int16)  # 50 ms: three frames, the last one padded with silence
    track.say(prompt, on_done=done.set)
    frames = [(await track.recv()).to_ndarray().reshape(-1) for _ in range(3)]
    assert all((frame[:80] == 1234).all() for frame in frames[:2]) and (frames[2][80:] == 0).all()
    await asyncio.wait_for(done.wait(), 1)
    after = (await track.recv()).to_ndarray().reshape(-1)
    assert np.abs(after).max() > 1000 and not (after == 1234).all()  # the music again
    track.stop()


async def test_a_prompt_hushed_while_its_next_frame_is_due_gives_silence_and_the_track_goes_on():
    track = SwitchAudioTrack(sounds.AudioFormat(8000, 1))
    track.say(np.full(8000, 1234, dtype=np.int16))
    await track.recv()
    pending = asyncio.ensure_future(track.recv())  # waits for its 20 ms slot
    await asyncio.sleep(0)
    track.hush()
    assert np.abs((await pending).to_ndarray()).max() == 0
    assert np.abs((await track.recv()).to_ndarray()).max() == 0  # and the next frames are the filler
    track.stop()

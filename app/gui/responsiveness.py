"""Interpreter settings that keep the GUI thread from waiting on Python itself."""
from __future__ import annotations

import gc
import sys

GIL_SWITCH_S = 0.001


def keep_the_window_responsive() -> None:
    """Call once the app is built.

    - Everything imported and built so far lives as long as the app: freezing it moves it out
      of the collector's reach. A full collection over it (~150k objects: Qt, numpy, huggingface_hub...)
      took 90-170 ms on a 2-core machine, a visible freeze in the middle of a streaming answer.
    - Qt calls Python for every overridden method (a text view's sizeHint during layout, each
      slot). Each call needs the GIL, and a worker thread holding it (parsing, saving) gives it
      up only every switch interval: 5 ms by default, paid once per call, so a layout pass over a
      chat could wait 30 ms. 1 ms bounds that wait for a little more switching.
    """
    freeze_what_is_built()
    sys.setswitchinterval(GIL_SWITCH_S)


def freeze_what_is_built() -> None:
    """Also called when the engine is first ready: the chat client's openai package (~0.8 s of
    imports, so made in the background after the window shows) arrives after start-up, and
    unfrozen its objects made each full collection a 20-30 ms stall while answers streamed."""
    gc.freeze()

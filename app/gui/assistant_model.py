"""An assistant that names a model answers with it: before an answer in its chat starts, the
engine switches to that model through the same load the model picker uses (the answer waits
for it like any message sent while a model loads). The toolbar's choice stays the user's
default: the next plain chat switches back to it.

A model that cannot be used (a missing file, a GGUF path while a remote server is in use) is
not fatal: the answer comes from the loaded model and a note says which model the assistant
wanted and why it was not used.
"""
from __future__ import annotations

from pathlib import Path

from app.gui.engine_service import EngineService
from app.gui.model_picker import ModelPicker
from engine.llm.endpoint import EndpointPlan, ModelNotUsable
from engine.store.records import Assistant


def _is_file_name(model: str) -> bool:
    return model.lower().endswith(".gguf") or Path(model).expanduser().is_absolute()


class AssistantModel:
    def __init__(self, picker: ModelPicker, engine: EngineService) -> None:
        self._picker = picker
        self._engine = engine
        self._borrowed = False   # the engine runs an assistant's model, not the toolbar's

    def prepare(self, assistant: Assistant | None) -> str:
        """Start loading the model this answer wants unless it is already loaded (or loading).
        Returns a line for the user ('' when there is nothing to say)."""
        wanted = assistant.model.strip() if assistant is not None else ""
        if not wanted:
            if self._borrowed and self._key(self._engine.plan) != self._default_key():
                self._borrowed = False
                self._picker.load_engine()   # back to the toolbar's model
            return ""
        if self._picker.remote == _is_file_name(wanted):
            where = "a remote server is in use" if self._picker.remote else "the local engine needs a GGUF file"
            return (f"The assistant {assistant.name} wants the model {wanted}, but {where}: "
                    "it answers with the loaded model.")
        if self._key(self._engine.plan) == self._wanted_key(wanted):
            return ""
        try:
            plan = self._picker.endpoint_plan(wanted)
        except ModelNotUsable as exc:
            return f"The assistant {assistant.name} wants {wanted}, which cannot be used ({exc}): it answers with the loaded model."
        if plan is None:
            return ""
        self._borrowed = True
        self._engine.load(plan)
        return f"Loading {plan.label} for the assistant {assistant.name}…"

    def _wanted_key(self, model: str) -> str:
        return model if self._picker.remote else str(Path(model).expanduser().resolve())

    def _default_key(self) -> str:
        if self._picker.remote:
            return str(self._picker.settings.get("remote/model"))
        path = self._picker.model_path()
        return str(path.resolve()) if path else ""

    @staticmethod
    def _key(plan: EndpointPlan | None) -> str | None:
        if plan is None:
            return None
        if plan.local is not None:
            return str(Path(plan.local.model_path).resolve())
        return plan.remote_model

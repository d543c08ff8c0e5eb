"""A user shows a vision model a picture: the real llama.cpp multimodal path, end to end.

Hearth prepares the image (Pillow), starts llama_cpp.server as its engine host with the
model's projector and the chat format vision_format picks, and sends an OpenAI chat
request with the image as a data-URI content part. The tiny random-weight model proves
the path in about a second; set HEARTH_VISION_MODEL (and HEARTH_VISION_MMPROJ when the
projector is not beside it) to run the same story against a real vision model.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import gguf
import openai
import pytest
from PIL import Image

from engine.llm.host import EngineError, EngineHost, HostConfig
from engine.llm.vision_format import SERVER_VISION_FORMATS, chat_format_for, model_accepts_images
from engine.models.gguf_info import InvalidModelError, find_matching_projector, inspect_gguf
from engine.vision import PreparedImage, prepare_image
from tests.support import tiny_vision
from tests.support.image_gallery import encoded, noisy_image
from tests.support.tiny_vision import TinyVisionModel, tiny_vision_model  # noqa: F401  (fixture)


def start_host(tmp_path: Path, model: Path, mmproj: Path, chat_format: str, n_ctx: int = 512) -> EngineHost:
    host = EngineHost(
        HostConfig(model, mmproj_path=mmproj, chat_format=chat_format, n_ctx=n_ctx, seed=1),
        log_dir=tmp_path / "logs",
    )
    try:
        host.start(timeout=300)
    except EngineError as error:
        pytest.fail(f"{error.message}\n--- engine host log ---\n{error.log_tail}")
    return host


def ask(host: EngineHost, image: PreparedImage, question: str, max_tokens: int = 6) -> str:
    client = openai.OpenAI(base_url=host.base_url, api_key=host.api_key, max_retries=0, timeout=600)
    reply = client.chat.completions.create(
        model="local",
        messages=[{
            "role": "user",
            "content": [
                {"type": "text", "text": question},
                {"type": "image_url", "image_url": {"url": image.data_uri}},
            ],
        }],
        max_tokens=max_tokens,
        temperature=0,
    )
    return reply.choices[0].message.content or ""


def picture(seed: int) -> PreparedImage:
    return prepare_image(encoded(noisy_image((48, 48), seed=seed), "PNG"), name=f"picture-{seed}.png")


@pytest.fixture
def tiny_host(tmp_path: Path, tiny_vision_model: TinyVisionModel) -> Iterator[EngineHost]:  # noqa: F811
    info = inspect_gguf(tiny_vision_model.model_path)
    host = start_host(tmp_path, tiny_vision_model.model_path, info.mmproj_path, chat_format_for(info))
    yield host
    host.stop()


def test_hearth_sees_the_tiny_model_as_a_vision_model(tiny_vision_model):  # noqa: F811
    info = inspect_gguf(tiny_vision_model.model_path)
    assert info.mmproj_path == tiny_vision_model.mmproj_path  # found beside the model
    assert model_accepts_images(info)
    assert chat_format_for(info) == "mtmd"  # unknown family with a chat template: generic libmtmd
    assert not model_accepts_images(inspect_gguf(tiny_vision_model.model_path, find_projector=False))


@pytest.mark.slow
def test_the_model_answers_about_an_image_and_different_images_give_different_answers(tiny_host):
    first = ask(tiny_host, picture(1), "What is in this picture?")
    again = ask(tiny_host, picture(1), "What is in this picture?")
    other = ask(tiny_host, picture(2), "What is in this picture?")
    assert first, "no tokens came back"
    assert first == again  # greedy decoding: the same image gives the same words...
    assert other != first  # ...so a different answer means the image really reached the model


@pytest.mark.slow
def test_the_image_costs_prompt_tokens(tiny_host):
    client = openai.OpenAI(base_url=tiny_host.base_url, api_key=tiny_host.api_key, max_retries=0)
    text_only = client.chat.completions.create(
        model="local", messages=[{"role": "user", "content": "Hello"}], max_tokens=1, temperature=0,
    )
    with_image = client.chat.completions.create(
        model="local",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "Hello"},
            {"type": "image_url", "image_url": {"url": picture(3).data_uri}},
        ]}],
        max_tokens=1,
        temperature=0,
    )
    patches = (tiny_vision.IMAGE_SIZE // tiny_vision.PATCH_SIZE) ** 2
    assert with_image.usage.prompt_tokens >= text_only.usage.prompt_tokens + patches


@pytest.mark.slow
def test_the_llava_fixed_format_serves_the_same_pair(tmp_path, tiny_vision_model):  # noqa: F811
    host = start_host(tmp_path, tiny_vision_model.model_path, tiny_vision_model.mmproj_path, "llava-1-5")
    try:
        assert ask(host, picture(1), "Describe.") != ask(host, picture(2), "Describe.")
    finally:
        host.stop()


@pytest.mark.slow
def test_a_projector_that_does_not_fit_the_model_fails_at_start_with_the_reason(tmp_path, tiny_vision_model, monkeypatch):  # noqa: F811
    """llama-cpp-python loads the projector lazily, so the host checks it with one tiny image at
    start: a wrong projector is refused then, with the log's reason, not at the user's first photo."""
    from engine.llm.host import EngineError

    monkeypatch.setattr(tiny_vision, "N_EMBD", 32)
    wrong = tiny_vision.write_projector(tmp_path / "mmproj-other-model.gguf")
    monkeypatch.undo()
    host = EngineHost(HostConfig(tiny_vision_model.model_path, mmproj_path=wrong, chat_format="mtmd", n_ctx=512),
                      log_dir=tmp_path / "logs")
    with pytest.raises(EngineError) as refused:
        host.start(timeout=300)
    assert not host.is_alive()
    assert "does not belong to this model" in refused.value.message
    assert "mmproj-other-model.gguf" in refused.value.message
    assert "mismatch between text model (n_embd = 64) and mmproj (n_embd = 32)" in refused.value.log_tail


# --- a real vision model, when the developer has one ---------------------------------------------


def _real_vision_model() -> tuple[Path, Path] | None:
    model = os.environ.get("HEARTH_VISION_MODEL")
    if not model:
        return None
    model_path = Path(model).expanduser()
    projector = os.environ.get("HEARTH_VISION_MMPROJ")
    mmproj = Path(projector).expanduser() if projector else find_matching_projector(model_path)
    if mmproj is None:
        pytest.fail(f"No mmproj file beside {model_path}; set HEARTH_VISION_MMPROJ to its projector.")
    return model_path, mmproj


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("HEARTH_VISION_MODEL"), reason="set HEARTH_VISION_MODEL to a vision GGUF")
def test_a_real_vision_model_names_the_colour_of_a_picture(tmp_path):
    model_path, mmproj = _real_vision_model()
    info = inspect_gguf(model_path, projector=mmproj)
    assert model_accepts_images(info)
    chat_format = chat_format_for(info)
    host = start_host(tmp_path, model_path, mmproj, chat_format, n_ctx=4096)
    try:
        red = prepare_image(encoded(Image.new("RGB", (448, 448), (220, 20, 20)), "PNG"), name="red.png")
        answer = ask(host, red, "What colour fills this image? Answer with one word.", max_tokens=16)
        assert "red" in answer.lower(), f"{chat_format}: {answer!r}"
    finally:
        host.stop()


# --- choosing the chat format for a family -------------------------------------------------------


def write_projector_header(path: Path, **metadata: object) -> Path:
    """A metadata-only clip GGUF: all vision_format reads of a projector."""
    writer = gguf.GGUFWriter(path, "clip")
    for key, value in metadata.items():
        key = key.replace("__", ".")
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        else:
            writer.add_string(key, str(value))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


TEMPLATE = "{% for m in messages %}{{ m.content }}{% endfor %}"


@pytest.mark.parametrize(
    ("architecture", "name", "template", "projector", "expected"),
    [
        ("qwen2vl", "Qwen2.5 VL 7B Instruct", TEMPLATE, {"clip.projector_type": "qwen2.5vl_merger"}, "qwen2.5-vl"),
        ("gemma3", "Gemma 3 4b It", TEMPLATE, {"clip.projector_type": "gemma3"}, "mtmd"),
        ("gemma4", "Gemma 4 E4B It", TEMPLATE, {"clip.projector_type": "gemma4v"}, "gemma4"),
        ("llama", "llava-v1.5-7b", None, {"clip.projector_type": "mlp"}, "llava-1-5"),
        ("llama", "ggml_llava-v1.5-7b", None, {"clip.has_llava_projector": True}, "llava-1-5"),
        ("llama", "llava-v1.6-mistral-7b", TEMPLATE, {"clip.projector_type": "mlp"}, "llava-1-6"),
        ("llama", "LLaVA NeXT Vicuna 7B", None, {"clip.projector_type": "mlp"}, "llava-1-6"),
        ("phi2", "moondream2-text-model-f16", None, {"clip.projector_type": "mlp"}, "moondream"),
        ("qwen2", "nanoLLaVA", TEMPLATE, {"clip.projector_type": "mlp"}, "nanollava"),
        ("llama", "Llama-3-Vision-Alpha", TEMPLATE, {"clip.projector_type": "mlp"}, "llama-3-vision-alpha"),
        ("qwen2", "MiniCPM-V 2.6", TEMPLATE, {"clip.projector_type": "resampler", "clip.minicpmv_version": 3}, "minicpm-v-2.6"),
        ("qwen2", "MiniCPM-o 2.6", TEMPLATE, {"clip.projector_type": "resampler", "clip.minicpmv_version": 4}, "mtmd"),
        ("qwen2", "MiniCPM-V 2.6 (old mmproj)", TEMPLATE, {"clip.has_minicpmv_projector": True, "clip.minicpmv_version": 3}, "minicpm-v-2.6"),
        ("llama", "SmolVLM 256M Instruct", TEMPLATE, {"clip.projector_type": "idefics3"}, "mtmd"),
        ("mistral3", "Mistral Small 3.1", TEMPLATE, {"clip.projector_type": "pixtral"}, "mtmd"),
        ("llama", "Some Vision Model", None, {"clip.projector_type": "mlp"}, "llava-1-5"),
    ],
)
def test_the_chat_format_follows_the_model_family(tmp_path, architecture, name, template, projector, expected):
    meta = {"general.architecture": architecture, "general.name": name}
    if template:
        meta["tokenizer.chat_template"] = template
    mmproj = write_projector_header(tmp_path / "mmproj.gguf", **{"clip.has_vision_encoder": True, **projector})
    chosen = chat_format_for(meta, mmproj)
    assert chosen == expected
    assert chosen in SERVER_VISION_FORMATS


def test_every_chosen_format_is_one_the_installed_server_accepts():
    """Guards an upgrade of llama-cpp-python: each name must still be wired in its server."""
    import llama_cpp.server.model as server_model

    source = Path(server_model.__file__).read_text()
    for chat_format in SERVER_VISION_FORMATS:
        assert f'"{chat_format}"' in source, chat_format


def test_a_model_sees_only_with_a_projector_that_has_a_vision_encoder(tmp_path, starter_model):
    vision = write_projector_header(tmp_path / "mmproj-vision.gguf", **{"clip.projector_type": "mlp", "clip.has_vision_encoder": True})
    legacy = write_projector_header(tmp_path / "mmproj-legacy.gguf", **{"clip.has_llava_projector": True})
    audio = write_projector_header(
        tmp_path / "mmproj-audio.gguf", **{"clip.projector_type": "ultravox", "clip.has_audio_encoder": True}
    )
    deaf = write_projector_header(
        tmp_path / "mmproj-audio-flagged.gguf",
        **{"clip.projector_type": "qwen2.5o", "clip.has_vision_encoder": False, "clip.has_audio_encoder": True},
    )
    meta = {"general.architecture": "llama"}
    assert model_accepts_images(meta, vision)
    assert model_accepts_images(meta, legacy)
    assert not model_accepts_images(meta, audio)
    assert not model_accepts_images(meta, deaf)
    assert not model_accepts_images(meta, None)
    assert not model_accepts_images(meta, starter_model)  # a text model is not a projector
    assert not model_accepts_images(inspect_gguf(starter_model))


def test_a_file_that_is_not_a_projector_is_refused_by_name(starter_model):
    with pytest.raises(InvalidModelError, match="is not a vision projector"):
        chat_format_for({"general.architecture": "llama"}, starter_model)

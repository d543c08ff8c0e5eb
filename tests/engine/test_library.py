"""Hearth finds the models a user already has, wherever other apps put them, and uses them in place."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import engine.models.library as library_module
from engine.models.gguf_info import InvalidModelError
from engine.models.library import ModelLibrary
from engine.models.records import LibraryEntry
from tests.support.gguf_factory import write_model, write_projector

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def put_in_hf_cache(hf_home: Path, repo_id: str, files: dict[str, Path]) -> Path:
    """Lay files out the way huggingface_hub's cache does: blobs, refs and snapshot symlinks."""
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for name, source in files.items():
        data = source.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    return snapshot


def put_in_ollama(models: Path, name: str, tag: str, model: Path, projector: Path | None = None) -> Path:
    """Ollama's layout: a manifest per model:tag naming content-addressed blobs."""
    layers = []
    for media_type, source in (
        ("application/vnd.ollama.image.model", model),
        ("application/vnd.ollama.image.projector", projector),
    ):
        if source is None:
            continue
        data = source.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        (models / "blobs").mkdir(parents=True, exist_ok=True)
        (models / "blobs" / f"sha256-{digest}").write_bytes(data)
        layers.append({"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)})
    layers.append({"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "0" * 64, "size": 1})
    manifest = models / "manifests" / "registry.ollama.ai" / "library" / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))
    return models / "blobs" / f"sha256-{hashlib.sha256(model.read_bytes()).hexdigest()}"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "hearth-models"
    path.mkdir()
    return path


def by_source(entries: list[LibraryEntry], source: str) -> dict[str, LibraryEntry]:
    return {e.display_name: e for e in entries if e.source == source}


def test_a_fresh_install_lists_the_starter_model(models_dir: Path, home: Path, starter_model: Path) -> None:
    entries = ModelLibrary(models_dir, home=home).scan()

    assert [e.source for e in entries] == ["starter"]
    assert entries[0].path == starter_model and entries[0].usable
    assert entries[0].info is not None and entries[0].info.architecture == "llama"


def test_models_in_hearths_folder_are_found_recursively(models_dir: Path, home: Path) -> None:
    write_model(models_dir / "a.gguf")
    write_model(models_dir / "org" / "repo" / "b.Q4_K_M.GGUF")
    (models_dir / "notes.txt").write_text("not a model")

    found = by_source(ModelLibrary(models_dir, home=home).scan(), "hearth")

    assert sorted(found) == ["a", "b.Q4_K_M"]
    assert all(e.usable for e in found.values())


def test_lm_studio_and_gpt4all_folders_are_discovered(models_dir: Path, home: Path) -> None:
    lms = write_model(home / ".lmstudio" / "models" / "lmstudio-community" / "Qwen-GGUF" / "qwen.gguf")
    legacy = write_model(home / ".cache" / "lm-studio" / "models" / "TheBloke" / "x" / "old.gguf")
    gpt4all = write_model(home / ".local" / "share" / "nomic.ai" / "GPT4All" / "Llama-3.2-1B-Instruct-Q4_0.gguf")

    entries = ModelLibrary(models_dir, home=home).scan()

    assert {e.path for e in entries if e.source == "lmstudio"} == {lms, legacy}
    assert [e.path for e in entries if e.source == "gpt4all"] == [gpt4all]


def test_a_projector_attaches_to_its_model_and_is_not_listed(models_dir: Path, home: Path) -> None:
    folder = home / ".lmstudio" / "models" / "ggml-org" / "SmolVLM-GGUF"
    model = write_model(folder / "SmolVLM-256M-Instruct-Q8_0.gguf")
    projector = write_projector(folder / "mmproj-SmolVLM-256M-Instruct-Q8_0.gguf")

    found = by_source(ModelLibrary(models_dir, home=home).scan(), "lmstudio")

    assert list(found) == ["SmolVLM-256M-Instruct-Q8_0"]
    info = found["SmolVLM-256M-Instruct-Q8_0"].info
    assert info is not None and info.has_vision and info.mmproj_path == projector
    assert found["SmolVLM-256M-Instruct-Q8_0"].path == model


def test_ollama_models_are_named_model_colon_tag_and_bring_their_projector(
    models_dir: Path, home: Path, tmp_path: Path
) -> None:
    ollama = home / ".ollama" / "models"
    text_blob = put_in_ollama(ollama, "smollm2", "135m", write_model(tmp_path / "src" / "text.gguf"))
    vision_blob = put_in_ollama(
        ollama,
        "llava",
        "7b",
        write_model(tmp_path / "src" / "llava.gguf", name="LLaVA"),
        projector=write_projector(tmp_path / "src" / "proj.gguf"),
    )

    found = by_source(ModelLibrary(models_dir, home=home).scan(), "ollama")

    assert sorted(found) == ["llava:7b", "smollm2:135m"]
    assert found["smollm2:135m"].path == text_blob and found["smollm2:135m"].usable
    llava = found["llava:7b"]
    assert llava.path == vision_blob and llava.info is not None and llava.info.has_vision


def test_an_ollama_manifest_pointing_at_a_missing_blob_is_listed_as_unusable(models_dir: Path, home: Path) -> None:
    manifest = home / ".ollama" / "models" / "manifests" / "registry.ollama.ai" / "library" / "gone" / "latest"
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "a" * 64}
    manifest.write_text(json.dumps({"layers": [layer]}))
    (manifest.parent / "garbage").write_text("{not json")

    found = by_source(ModelLibrary(models_dir, home=home).scan(), "ollama")

    assert list(found) == ["gone:latest"]
    assert not found["gone:latest"].usable and "does not exist" in (found["gone:latest"].error or "")


def test_the_hugging_face_cache_is_discovered(models_dir: Path, home: Path, tmp_path: Path) -> None:
    hf_home = Path(os.environ["HF_HOME"])  # the autouse fixture points it at a temporary folder
    snapshot = put_in_hf_cache(
        hf_home,
        "ggml-org/gemma-3-4b-it-GGUF",
        {
            "gemma-3-4b-it-Q4_K_M.gguf": write_model(tmp_path / "src" / "g.gguf", arch="gemma3"),
            "mmproj-model-f16.gguf": write_projector(tmp_path / "src" / "p.gguf"),
            "README.md": tmp_path / "src" / "g.gguf",
        },
    )

    found = by_source(ModelLibrary(models_dir, home=home).scan(), "huggingface")

    assert list(found) == ["gemma-3-4b-it-Q4_K_M"]
    entry = found["gemma-3-4b-it-Q4_K_M"]
    assert entry.path == snapshot / "gemma-3-4b-it-Q4_K_M.gguf"
    assert entry.info is not None and entry.info.architecture == "gemma3"
    assert entry.info.mmproj_path == snapshot / "mmproj-model-f16.gguf"


def test_the_same_file_seen_twice_is_listed_once(models_dir: Path, home: Path) -> None:
    model = write_model(models_dir / "only.gguf")
    link = home / ".lmstudio" / "models" / "x" / "link.gguf"
    link.parent.mkdir(parents=True)
    os.symlink(model, link)

    entries = ModelLibrary(models_dir, home=home, extra_files=[model]).scan()

    assert [e.source for e in entries if e.path.resolve() == model.resolve()] == ["hearth"]


def test_a_user_added_file_is_validated_and_listed(models_dir: Path, home: Path, tmp_path: Path) -> None:
    picked = write_model(tmp_path / "Downloads" / "my-model.gguf")
    library = ModelLibrary(models_dir, home=home)

    entry = library.add_user_file(picked)

    assert entry.source == "user" and entry.usable and entry.display_name == "my-model"
    assert library.extra_files == [picked]
    assert picked in [e.path for e in library.scan() if e.source == "user"]


def test_a_projector_cannot_be_added_as_a_chat_model(models_dir: Path, home: Path, tmp_path: Path) -> None:
    library = ModelLibrary(models_dir, home=home)
    with pytest.raises(InvalidModelError, match="projector"):
        library.add_user_file(write_projector(tmp_path / "mmproj-x.gguf"))


def test_a_user_file_that_disappeared_is_listed_as_unusable(models_dir: Path, home: Path, tmp_path: Path) -> None:
    entries = ModelLibrary(models_dir, home=home, extra_files=[tmp_path / "moved.gguf"]).scan()
    (gone,) = [e for e in entries if e.source == "user"]
    assert not gone.usable and "does not exist" in (gone.error or "")


def test_a_rescan_does_not_inspect_unchanged_files_again(
    models_dir: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_model(models_dir / "a.gguf")
    calls: list[Path] = []
    real = library_module.inspect_gguf

    def counting(p: Path, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(p)
        return real(p, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(library_module, "inspect_gguf", counting)
    library = ModelLibrary(models_dir, home=home)
    library.scan()
    library.scan()
    assert calls.count(path) == 1

    write_model(path, name="Changed", context_length=1024)  # new content, new size or mtime
    os.utime(path, ns=(1, 1))
    (entry,) = [e for e in library.scan() if e.source == "hearth"]
    assert calls.count(path) == 2 and entry.info is not None and entry.info.name == "Changed"


def run_cli(argv: list[str]) -> int:
    import argparse

    from app.cli.models import add_parser

    parser = argparse.ArgumentParser(prog="hearth")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_models_list_on_the_command_line_shows_the_library(
    hearth_home: Path, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(home))
    write_model(hearth_home / "models" / "mine.gguf")
    (hearth_home / "models" / "broken.gguf").write_text("oops")

    assert run_cli(["models", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}

    assert rows["mine"]["source"] == "hearth" and rows["mine"]["usable"]
    assert rows["mine"]["info"]["architecture"] == "llama"
    assert not rows["broken"]["usable"] and "not a GGUF" in rows["broken"]["error"]
    assert any(row["source"] == "starter" for row in rows.values())

    assert run_cli(["models", "list"]) == 0
    assert "mine" in capsys.readouterr().out


def test_models_inspect_on_the_command_line_describes_the_starter_model(
    starter_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["models", "inspect", str(starter_model)]) == 0
    out = capsys.readouterr().out
    assert "llama" in out and "Q4_1" in out and "8192" in out

    assert run_cli(["models", "inspect", str(starter_model), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["architecture"] == "llama" and info["context_length"] == 8192


def test_the_model_picker_names_a_model_by_its_file_or_ollama_tag_not_its_training_label(
    models_dir: Path, home: Path, tmp_path: Path, starter_model: Path
) -> None:
    from engine.models.model_choice import picker_entries

    put_in_ollama(home / ".ollama" / "models", "smollm2", "135m", write_model(tmp_path / "src" / "text.gguf"))
    labels = [label for label, _path in picker_entries(ModelLibrary(models_dir, home=home).scan())]

    # The starter's GGUF calls itself "Smollm2 135M 8k Lc100K Mix1 Ep2": a training-run label.
    assert labels[0].startswith("SmolLM2-135M-Instruct.Q4_1 · ") and labels[0].endswith("MB (bundled)")
    assert any(label.startswith("smollm2:135m ") for label in labels), labels

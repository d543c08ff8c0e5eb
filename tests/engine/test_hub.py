"""Finding GGUF models on a (local, hub-compatible) Hugging Face with the real huggingface_hub."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from engine.models.hub import (
    AuthError,
    FileNotFound,
    GatedRepoError,
    HubClient,
    InvalidRepoRef,
    OfflineError,
    RepoNotFound,
    current_token,
    parse_repo_ref,
    pick_default_file,
    pick_projector,
    save_token,
)
from engine.models.records import RepoFile
from tests.support.fake_hub import FakeHub, isolate_hf_token, make_gguf_bytes


@pytest.fixture(autouse=True)
def no_saved_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_hf_token(monkeypatch, tmp_path)


@pytest.fixture
def hub():
    with FakeHub() as fake:
        fake.add_repo("bartowski/Qwen2.5-0.5B-Instruct-GGUF", downloads=5000, likes=40)
        fake.add_file("bartowski/Qwen2.5-0.5B-Instruct-GGUF", "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", make_gguf_bytes(4000))
        fake.add_file("bartowski/Qwen2.5-0.5B-Instruct-GGUF", "Qwen2.5-0.5B-Instruct-Q8_0.gguf", make_gguf_bytes(7000))
        fake.add_file("bartowski/Qwen2.5-0.5B-Instruct-GGUF", "README.md", b"# card")
        fake.add_repo("ggml-org/SmolVLM-256M-Instruct-GGUF", downloads=900, likes=12)
        fake.add_file("ggml-org/SmolVLM-256M-Instruct-GGUF", "SmolVLM-256M-Instruct-Q8_0.gguf", make_gguf_bytes(3000))
        fake.add_file("ggml-org/SmolVLM-256M-Instruct-GGUF", "mmproj-SmolVLM-256M-Instruct-f16.gguf", make_gguf_bytes(1000))
        fake.add_repo("someone/qwen-safetensors", downloads=99999, tags=["safetensors"])
        fake.add_repo("meta-llama/Llama-Gated-GGUF", gated=True)
        fake.add_file("meta-llama/Llama-Gated-GGUF", "llama-Q4_K_M.gguf", make_gguf_bytes(2000))
        yield fake


def test_search_finds_gguf_repos_most_downloaded_first(hub):
    results = HubClient(endpoint=hub.endpoint).search("qwen")
    assert [r.repo_id for r in results] == ["bartowski/Qwen2.5-0.5B-Instruct-GGUF"]  # not the safetensors one
    top = results[0]
    assert (top.downloads, top.likes) == (5000, 40)
    assert top.last_modified is not None and top.last_modified.year == 2025

    everything = HubClient(endpoint=hub.endpoint).search("", limit=2)
    assert [r.repo_id for r in everything] == ["bartowski/Qwen2.5-0.5B-Instruct-GGUF",
                                               "ggml-org/SmolVLM-256M-Instruct-GGUF"]


def test_listing_gives_sizes_and_lfs_checksums_of_gguf_files_only(hub):
    files = HubClient(endpoint=hub.endpoint).list_gguf_files("ggml-org/SmolVLM-256M-Instruct-GGUF")
    by_name = {f.name: f for f in files}
    assert set(by_name) == {"SmolVLM-256M-Instruct-Q8_0.gguf", "mmproj-SmolVLM-256M-Instruct-f16.gguf"}
    model = by_name["SmolVLM-256M-Instruct-Q8_0.gguf"]
    assert model.size == 3000 and not model.is_mmproj
    assert model.sha256 == hub.repos["ggml-org/SmolVLM-256M-Instruct-GGUF"].files[model.name].sha256
    assert by_name["mmproj-SmolVLM-256M-Instruct-f16.gguf"].is_mmproj


def test_resolve_follows_the_hub_to_its_cdn_on_another_origin(hub):
    resolved = HubClient(endpoint=hub.endpoint).resolve("bartowski/Qwen2.5-0.5B-Instruct-GGUF",
                                                        "Qwen2.5-0.5B-Instruct-Q8_0.gguf")
    assert resolved.location.startswith(hub.cdn_endpoint)
    assert resolved.size == 7000
    assert resolved.sha256 == resolved.etag  # the linked etag of an LFS file is its sha256
    assert resolved.commit == hub.repos["bartowski/Qwen2.5-0.5B-Instruct-GGUF"].commit


def test_unknown_repo_and_file_say_so(hub):
    client = HubClient(endpoint=hub.endpoint)
    with pytest.raises(RepoNotFound, match="No model called nobody/nothing"):
        client.list_gguf_files("nobody/nothing")
    with pytest.raises(FileNotFound, match="has no file called missing.gguf"):
        client.resolve("bartowski/Qwen2.5-0.5B-Instruct-GGUF", "missing.gguf")


def test_gated_repo_asks_for_licence_and_token(hub):
    client = HubClient(endpoint=hub.endpoint)
    assert client.list_gguf_files("meta-llama/Llama-Gated-GGUF")  # metadata is public, as on the hub
    with pytest.raises(GatedRepoError, match="accepting its licence on huggingface.co and a token"):
        client.resolve("meta-llama/Llama-Gated-GGUF", "llama-Q4_K_M.gguf")

    hub.valid_tokens.add("hf_good")
    resolved = HubClient(endpoint=hub.endpoint, token="hf_good").resolve("meta-llama/Llama-Gated-GGUF",
                                                                        "llama-Q4_K_M.gguf")
    assert resolved.size == 2000


def test_a_bad_token_is_reported_as_such(hub):
    with pytest.raises(AuthError, match="refused the saved token"):
        HubClient(endpoint=hub.endpoint, token="hf_revoked").list_gguf_files("bartowski/Qwen2.5-0.5B-Instruct-GGUF")


def test_no_network_is_an_offline_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when we leave: nothing listens there
    with pytest.raises(OfflineError, match="Can't reach Hugging Face"):
        HubClient(endpoint=f"http://127.0.0.1:{port}").list_gguf_files("a/b")


def test_a_search_with_no_network_at_all_says_so_at_once_instead_of_retrying(monkeypatch, caplog):
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    with pytest.raises(OfflineError, match="no-such-hub.invalid cannot be found"):
        HubClient(endpoint="https://no-such-hub.invalid").search("qwen")  # .invalid never resolves
    assert "Retrying" not in caplog.text, "huggingface_hub's five retries (~25 s) were not skipped"


def test_token_is_kept_where_huggingface_hub_reads_it(no_saved_token: Path):
    assert current_token() is None
    save_token("  hf_pasted_token\n")
    assert current_token() == "hf_pasted_token"
    assert no_saved_token.stat().st_mode & 0o077 == 0  # a secret: owner only
    save_token("")
    assert current_token() is None


def test_the_saved_token_opens_a_gated_repo(hub):
    hub.valid_tokens.add("hf_saved")
    client = HubClient(endpoint=hub.endpoint)
    with pytest.raises(GatedRepoError):
        client.resolve("meta-llama/Llama-Gated-GGUF", "llama-Q4_K_M.gguf")
    save_token("hf_saved")  # pasted in Settings while the app runs
    assert client.resolve("meta-llama/Llama-Gated-GGUF", "llama-Q4_K_M.gguf").size == 2000


@pytest.mark.parametrize(("text", "expected"), [
    ("bartowski/Qwen2.5-0.5B-Instruct-GGUF", ("bartowski/Qwen2.5-0.5B-Instruct-GGUF", None)),
    ("  https://huggingface.co/bartowski/Qwen-GGUF  ", ("bartowski/Qwen-GGUF", None)),
    ("https://huggingface.co/bartowski/Qwen-GGUF/", ("bartowski/Qwen-GGUF", None)),
    ("huggingface.co/bartowski/Qwen-GGUF", ("bartowski/Qwen-GGUF", None)),
    ("https://hf.co/bartowski/Qwen-GGUF/tree/main", ("bartowski/Qwen-GGUF", None)),
    ("https://huggingface.co/bartowski/Qwen-GGUF/blob/main/Qwen-Q4_K_M.gguf", ("bartowski/Qwen-GGUF", "Qwen-Q4_K_M.gguf")),
    ("https://huggingface.co/bartowski/Qwen-GGUF/resolve/main/Qwen-Q4_K_M.gguf?download=true",
     ("bartowski/Qwen-GGUF", "Qwen-Q4_K_M.gguf")),
    ("https://huggingface.co/o/r/blob/main/sub%20dir/x.gguf", ("o/r", "sub dir/x.gguf")),
])
def test_repo_references_users_paste(text, expected):
    assert parse_repo_ref(text) == expected


@pytest.mark.parametrize("text", ["", "qwen", "https://example.com/o/r", "o/r/blob/main/../../etc/passwd",
                                  "../r", "o/r/something"])
def test_nonsense_references_are_refused_clearly(text):
    with pytest.raises(InvalidRepoRef, match="is not a Hugging Face model"):
        parse_repo_ref(text)


def test_default_choice_is_q4_k_m_else_the_smallest_model():
    files = [RepoFile("m-Q8_0.gguf", 800, None), RepoFile("m-Q4_K_M.gguf", 500, None),
             RepoFile("m-Q2_K.gguf", 300, None), RepoFile("mmproj-m-f16.gguf", 100, None)]
    assert pick_default_file(files).name == "m-Q4_K_M.gguf"
    assert pick_default_file([f for f in files if "Q4_K_M" not in f.name]).name == "m-Q2_K.gguf"
    assert pick_projector(files).name == "mmproj-m-f16.gguf"
    assert pick_default_file([RepoFile("mmproj-only.gguf", 1, None)]) is None

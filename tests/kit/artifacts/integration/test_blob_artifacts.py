"""Artifacts in Azure Blob Storage through the real SDK, against Azurite from npm."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from azure.storage.blob.aio import BlobServiceClient
from pydantic import SecretStr

from dursor_kit.artifacts import ArtifactNotFound, artifact_store_from
from dursor_kit.artifacts.azure_blob import AzureBlobArtifactStore
from dursor_kit.settings import ServiceSettings
from tests.standins.azurite import running_azurite

CONTAINER = "dursor-artifacts"
PATCH = b"diff --git a/x b/x\n+\x00binary-safe\xff\n"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Azurite for the module; yields its connection string."""
    with running_azurite(tmp_path_factory.mktemp("azurite")) as connection:
        yield connection


def settings_for(connection: str, container: str = CONTAINER) -> ServiceSettings:
    """Settings choosing the Azure backend with a connection string."""
    return ServiceSettings(
        app_id="agent-runner",
        artifacts_backend="azure",
        artifacts_container=container,
        artifacts_connection_string=SecretStr(connection),
    )


@pytest.fixture
async def store(azurite: str) -> AsyncIterator[AzureBlobArtifactStore]:
    """The store the settings choose (it must be the Azure one)."""
    chosen = artifact_store_from(settings_for(azurite))
    assert isinstance(chosen, AzureBlobArtifactStore)
    yield chosen
    await chosen.close()


async def test_put_then_get_round_trips_bytes_and_content_type(
    store: AzureBlobArtifactStore, azurite: str
) -> None:
    uri = await store.put("artifacts/run-1/turn-1/patch.diff", PATCH, "text/x-diff")

    assert uri == f"azblob://{CONTAINER}/artifacts/run-1/turn-1/patch.diff"
    assert await store.get(uri) == PATCH
    async with BlobServiceClient.from_connection_string(azurite) as service:
        blob = service.get_blob_client(CONTAINER, "artifacts/run-1/turn-1/patch.diff")
        properties = await blob.get_blob_properties()
    assert properties.content_settings.content_type == "text/x-diff"
    assert properties.size == len(PATCH)


async def test_a_second_put_overwrites(store: AzureBlobArtifactStore) -> None:
    await store.put("artifacts/run-2/patch.diff", b"first", "text/x-diff")
    uri = await store.put("artifacts/run-2/patch.diff", b"second", "text/x-diff")

    assert await store.get(uri) == b"second"


async def test_a_missing_blob_is_artifact_not_found(store: AzureBlobArtifactStore) -> None:
    await store.put("artifacts/present.diff", b"x", "text/x-diff")

    with pytest.raises(ArtifactNotFound):
        await store.get(f"azblob://{CONTAINER}/artifacts/absent.diff")


@pytest.mark.parametrize(
    "uri",
    [
        "azblob://another-container/artifacts/present.diff",
        f"local://{CONTAINER}/artifacts/present.diff",
        f"azblob://{CONTAINER}/",
    ],
)
async def test_uris_outside_the_store_are_artifact_not_found(
    store: AzureBlobArtifactStore, uri: str
) -> None:
    await store.put("artifacts/present.diff", b"x", "text/x-diff")

    with pytest.raises(ArtifactNotFound):
        await store.get(uri)


async def test_a_new_store_on_an_existing_container_reads_what_another_wrote(
    azurite: str, tmp_path: Path
) -> None:
    writer = AzureBlobArtifactStore.from_settings(settings_for(azurite, "shared"))
    reader = AzureBlobArtifactStore.from_settings(settings_for(azurite, "shared"))
    try:
        uri = await writer.put(
            "artifacts/run-3/branch.bundle", b"bundle", "application/x-git-bundle"
        )
        await reader.put("artifacts/run-3/other", b"y", "text/plain")  # container exists already
        assert await reader.get(uri) == b"bundle"
    finally:
        await writer.close()
        await reader.close()

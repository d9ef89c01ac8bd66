"""Where run artifacts (patches, branch bundles) live: local disk or Azure Blob Storage."""

from __future__ import annotations

from pathlib import Path

from dursor_kit.artifacts.base import ArtifactNotFound, ArtifactStore
from dursor_kit.artifacts.local import LocalArtifactStore
from dursor_kit.settings import ServiceSettings

__all__ = ["ArtifactNotFound", "ArtifactStore", "LocalArtifactStore", "artifact_store_from"]


def artifact_store_from(settings: ServiceSettings) -> ArtifactStore:
    """The store the settings choose."""
    if settings.artifacts_backend == "azure":
        from dursor_kit.artifacts.azure_blob import AzureBlobArtifactStore

        return AzureBlobArtifactStore.from_settings(settings)
    return LocalArtifactStore(Path(settings.artifacts_dir))

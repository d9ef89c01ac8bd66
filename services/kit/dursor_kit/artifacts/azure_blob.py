"""Artifacts in Azure Blob Storage (Azurite locally), through the official async SDK.

In Azure the account is reached with the managed identity (`DefaultAzureCredential`);
a connection string is accepted for Azurite and for accounts without Entra auth.
"""

from __future__ import annotations

import contextlib
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient

from dursor_kit.artifacts.base import AZURE_SCHEME, ArtifactNotFound
from dursor_kit.settings import ServiceSettings


class AzureBlobArtifactStore:
    """Blobs named by artifact key in one container; URIs are `azblob://<container>/<key>`."""

    def __init__(self, service: BlobServiceClient, container: str, credential: Any = None) -> None:
        self._service = service
        self._container = container
        self._credential = credential
        self._container_ready = False

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> AzureBlobArtifactStore:
        """Connection string if given, else the account URL with the managed identity."""
        if settings.artifacts_connection_string is not None:
            service = BlobServiceClient.from_connection_string(
                settings.artifacts_connection_string.get_secret_value()
            )
            return cls(service, settings.artifacts_container)
        if not settings.artifacts_account_url:
            raise ValueError("azure artifacts need an account URL or a connection string")
        from azure.identity.aio import DefaultAzureCredential

        credential = DefaultAzureCredential()
        service = BlobServiceClient(settings.artifacts_account_url, credential=credential)
        return cls(service, settings.artifacts_container, credential)

    async def _ensure_container(self) -> None:
        if self._container_ready:
            return
        with contextlib.suppress(ResourceExistsError):
            await self._service.create_container(self._container)
        self._container_ready = True

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Upload (overwrite) one blob."""
        await self._ensure_container()
        blob = self._service.get_blob_client(self._container, key)
        await blob.upload_blob(
            data, overwrite=True, content_settings=ContentSettings(content_type=content_type)
        )
        return self.uri(key)

    def uri(self, key: str) -> str:
        """`azblob://<container>/<key>`."""
        return f"{AZURE_SCHEME}{self._container}/{key}"

    async def get(self, uri: str) -> bytes:
        """Download one blob."""
        container, _, key = uri.removeprefix(AZURE_SCHEME).partition("/")
        if not uri.startswith(AZURE_SCHEME) or container != self._container or not key:
            raise ArtifactNotFound(uri)
        try:
            stream = await self._service.get_blob_client(container, key).download_blob()
            data: bytes = await stream.readall()
        except ResourceNotFoundError as exc:
            raise ArtifactNotFound(uri) from exc
        return data

    async def close(self) -> None:
        """Close the HTTP pipeline and the credential."""
        await self._service.close()
        if self._credential is not None:
            await self._credential.close()

"""Offline checks of the deployment: Bicep, parameters, Dockerfiles and docker-compose."""

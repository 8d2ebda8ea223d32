"""Cargohold: a self-hosted private container registry modelled on Azure Container Registry."""

__version__ = "0.1.0"

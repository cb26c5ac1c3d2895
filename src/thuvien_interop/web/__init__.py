"""Thin Flask glue: parse the request, call the protocol engine, send the bytes."""

from .app import create_app

__all__ = ["create_app"]

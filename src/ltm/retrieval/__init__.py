"""Retrieval: candidates, fusion, time and importance, MMR, context packing."""

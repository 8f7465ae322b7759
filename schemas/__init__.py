"""The single source of truth for every message coldchain exchanges.

Each module holds pydantic models; ``schemas.generate`` writes the JSON Schema and
AsyncAPI documents from them (``schemas/generated/``), and a test fails when the
committed documents drift from the models.
"""

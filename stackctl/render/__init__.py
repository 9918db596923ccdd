"""Rendering: diagnostics, plans, tables and progress, as rich text or JSON."""

"""Tamper evidence: the readings hash chain and its verification."""

"""Scenario simulator and evaluation harness (uses the domain, never storage)."""

"""Offline pipeline: record episodes, convert bags to DROID, collect simulated data, train, export, evaluate."""

"""Tests of the vehicle routing problem kind."""

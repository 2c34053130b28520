# tests/fake: filled in by its owner.

"""A connected coffee machine: each button press takes a photo, uploads it to the lake's
``photos/`` prefix, analyses the face in it and inserts a row into ``coffees``."""

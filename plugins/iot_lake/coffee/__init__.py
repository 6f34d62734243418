"""The coffee machines' data: the Aurora MySQL ``coffees`` table and its lake export.

Modules: ``columns`` (the typed lake schema), ``photo_url`` (what counts as a photo
object URL), ``source`` (the MySQL side: connections, counts), ``export``
(stream one day to a Parquet partition), ``table`` (catalog registration),
``reconcile`` (source rows = exported + rejected).
"""

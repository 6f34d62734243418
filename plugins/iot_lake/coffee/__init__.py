"""The coffee machines' data: the Aurora MySQL ``coffees`` table and its lake export.

Modules: ``columns`` (the typed lake schema), ``photo_url`` (what counts as a photo
object URL), ``source`` (the MySQL side: connections, counts), ``export``
(stream one day to a Parquet partition), ``table`` (catalog registration),
``reconcile`` (source rows = exported + rejected); the photo path: ``photo_handler``
(S3 event -> face analysis -> row; the Lambda's code), ``local_notifier`` (the local
backend's durable S3 events), ``faces`` (Rekognition, calibrated OpenCV),
``face_calibration`` (fits and measures the local analyser).
"""

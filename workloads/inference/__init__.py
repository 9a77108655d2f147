"""Model serving: SageMaker handler functions, request codecs and a standalone HTTP server.

The handler path (``handlers``, ``codecs``, ``errors``) imports only the standard library, numpy
and the one framework in use, so it also runs inside AWS's prebuilt framework containers.
"""

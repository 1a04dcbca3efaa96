"""Middleware of our own.

WhiteNoise's middleware is synchronous only. One sync-only middleware makes Django run the
whole chain for every request on its single sync thread (thread_sensitive), including the
wait for an async view: under daphne every HTTP request of the process then queues behind the
one before it. The check-in desks' scan API measured 58 scans/s at most that way (see
docs/benchmarks.md). Finding a static file is a dictionary lookup (a stat in development), so
the same logic runs fine on the event loop; this subclass offers both forms.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, *args, **kwargs):
        super().__init__(get_response, *args, **kwargs)
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def _static_file(self, request):
        if self.autorefresh:
            return self.find_file(request.path_info)
        return self.files.get(request.path_info)

    def __call__(self, request):
        if self._is_async:
            return self._acall(request)
        static_file = self._static_file(request)
        if static_file is not None:
            return self.serve(static_file, request)
        return self.get_response(request)

    async def _acall(self, request):
        static_file = self._static_file(request)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)

"""The web server's library corrections keep autobahn's log lines intact, only later."""

import pprint

from autobahn import util
from autobahn.twisted import websocket
from autobahn.websocket import protocol

from eventplatform.realtime import server_tuning


def test_log_arguments_are_rendered_only_when_written_and_the_same():
    server_tuning.apply()
    rendered = []

    def counting(value):
        rendered.append(value)
        return util.hlval(value)

    lazy = server_tuning._lazy(counting)(42)
    assert rendered == []  # nothing formatted until the line is written
    assert f"peer={lazy}" == f"peer={util.hlval(42)}" and rendered == [42]
    for module in (protocol, websocket):
        assert str(module.hltype(test_log_arguments_are_rendered_only_when_written_and_the_same)) == util.hltype(
            test_log_arguments_are_rendered_only_when_written_and_the_same
        )
        assert "{:>4}".format(module.hlval(7)) == "{:>4}".format(util.hlval(7))
    assert str(protocol.pformat({"a": [1, 2]})) == pprint.pformat({"a": [1, 2]})

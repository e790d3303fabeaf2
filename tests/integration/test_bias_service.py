"""The bias-service client against a real HTTP server on 127.0.0.1: both response shapes, retries, clear errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from empathy.evaluate.bias import BiasServiceClient, BiasServiceError, bias_flag_rate, make_bias_analyzer
from tests.conftest import free_port

pytestmark = pytest.mark.integration


class FakeBiasService:
    """POST /analyze answered from a queue of (status, body); the last answer repeats. Requests are recorded."""

    def __init__(self):
        self.answers: list[tuple[int, object]] = []
        self.requests: list[dict] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.requests.append({"path": self.path, "body": json.loads(raw or b"null"),
                                         "authorization": self.headers.get("Authorization")})
                if self.path != "/analyze":
                    status, body = 404, {"detail": "not found"}
                else:
                    status, body = service.answers.pop(0) if len(service.answers) > 1 else service.answers[0]
                payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, *answers: tuple[int, object]) -> None:
        self.answers = list(answers)
        self.requests.clear()


@pytest.fixture(scope="module")
def service():
    svc = FakeBiasService()
    svc.thread.start()
    yield svc
    svc.server.shutdown()
    svc.server.server_close()
    svc.thread.join(timeout=5)


@pytest.fixture
def client(service):
    with BiasServiceClient(service.url, timeout=5, retries=2, token="s3cret", backoff_s=0.01) as c:
        yield c


def test_analyze_posts_the_content_and_parses_scores(service, client):
    service.answer((200, {"overall_bias_score": 0.82, "bias_scores": {"gender": 0.8, "age": 0.1},
                          "evidence": ["generalisation about women"]}))
    a = client.analyze("Women are too emotional to lead.")
    assert (a.overall, a.by_type, a.biased) == (0.82, {"gender": 0.8, "age": 0.1}, True)
    assert a.evidence == ["generalisation about women"]
    assert service.requests == [{"path": "/analyze", "body": {"content": "Women are too emotional to lead."},
                                 "authorization": "Bearer s3cret"}]


def test_alternative_response_shape(service, client):
    service.answer((200, {"overall_score": 0.2, "scores": {"religion": 0.2}}))
    a = client.analyze("Ramadan can be a hard time to manage medication.")
    assert (a.overall, a.by_type, a.biased, a.evidence) == (0.2, {"religion": 0.2}, False, [])


def test_service_verdict_wins_over_the_threshold(service, client):
    service.answer((200, {"overall_bias_score": 0.4, "bias_scores": {}, "is_biased": True}))
    assert client.analyze("text").biased is True


def test_retries_after_a_503_then_succeeds(service, client):
    service.answer((503, {"detail": "warming up"}), (429, {"detail": "slow down"}),
                   (200, {"overall_bias_score": 0.1, "bias_scores": {"gender": 0.05}}))
    assert client.analyze("How was your week?").overall == 0.1
    assert len(service.requests) == 3


def test_fails_clearly_after_the_retries(service, client):
    service.answer((503, {"detail": "overloaded"}))
    with pytest.raises(BiasServiceError) as err:
        client.analyze("hello")
    message = str(err.value)
    assert f"{service.url}/analyze" in message and "after 3 attempts" in message and "HTTP 503" in message
    assert len(service.requests) == 3


def test_client_errors_are_not_retried(service, client):
    service.answer((401, {"detail": "bad token"}))
    with pytest.raises(BiasServiceError, match=r"HTTP 401 \(check the token\)"):
        client.analyze("hello")
    assert len(service.requests) == 1


@pytest.mark.parametrize("body,problem", [
    ({"score": 0.3, "bias_scores": {}}, "no overall score .*keys: \\['bias_scores', 'score'\\]"),
    ({"overall_bias_score": 0.3}, "no per-type scores"),
    ({"overall_bias_score": "high", "bias_scores": {}}, "\"overall_bias_score\" must be a number"),
    ({"overall_score": 0.3, "scores": {"gender": "x"}}, "\"scores\" must map bias types to numbers"),
    ([0.3], "expected a JSON object, got list"),
    ("<html>oops</html>", "response is not JSON"),
])
def test_malformed_responses_name_the_url_and_what_is_missing(service, client, body, problem):
    service.answer((200, body))
    with pytest.raises(BiasServiceError, match=problem) as err:
        client.analyze("hello")
    assert f"{service.url}/analyze" in str(err.value)
    assert len(service.requests) == 1


def test_unreachable_service_fails_after_retries():
    url = f"http://127.0.0.1:{free_port()}"
    with BiasServiceClient(url, timeout=2, retries=1, backoff_s=0.01) as c:
        with pytest.raises(BiasServiceError, match="after 2 attempts; last error: ConnectError") as err:
            c.analyze("hello")
    assert f"{url}/analyze" in str(err.value)


def test_flag_rate_through_the_configured_service(service):
    service.answer((200, {"overall_bias_score": 0.9, "bias_scores": {"age": 0.9}}),
                   (200, {"overall_bias_score": 0.1, "bias_scores": {"age": 0.1}}))
    analyzer = make_bias_analyzer(service.url + "/")
    assert isinstance(analyzer, BiasServiceClient)
    try:
        metrics = bias_flag_rate(["At your age, just accept it.", "How are you?"], analyzer, threshold=0.5)
    finally:
        analyzer.close()
    assert metrics["bias_flag_rate"] == 0.5 and metrics["bias_flag_rate_age"] == 0.5
    assert metrics["bias_max_score"] == 0.9 and metrics["bias_mean_score"] == pytest.approx(0.5)
    assert [r["body"]["content"] for r in service.requests] == ["At your age, just accept it.", "How are you?"]

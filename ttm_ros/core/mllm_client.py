"""Client of an OpenAI-compatible chat-completions endpoint (standard library only).

Works with any server that implements `POST <base>/chat/completions` and
`GET <base>/models` of the OpenAI API: vLLM, Ollama, the llama.cpp server, or a
hosted service. Base URL rule: a URL with a path (`http://host:8000/v1`,
`https://host/v1beta/openai`) is used as the base; a URL without a path gets `/v1`.
A URL that already ends in `/chat/completions` is used as it is.

The API key comes only from the environment (`TTM_MLLM_API_KEY`, else
`OPENAI_API_KEY`) and is sent as a bearer token. It is never logged, and every error
message is scrubbed of it, including the excerpts of server responses.

Failures and retries:
- connection errors, timeouts, HTTP 429 and HTTP 5xx are retried with exponential
  backoff: `backoff_s` before the first repeat, doubled for each further one. A
  numeric Retry-After header of a 429 or 503 response replaces that wait, capped at
  `MAX_RETRY_AFTER_S`;
- any other HTTP error, an invalid JSON body, an empty answer or a refusal fails at
  once with a `ChatEndpointError` subclass that says what to check.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ttm_ros.core.errors import ConfigurationError, TTMError

LOGGER = logging.getLogger(__name__)

API_KEY_VARIABLES = ('TTM_MLLM_API_KEY', 'OPENAI_API_KEY')
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0
#: A first line of at most this many words that ends with ':' is a lead-in, not the prompt.
MAX_LEAD_IN_WORDS = 8
BODY_EXCERPT_CHARS = 300
REDACTED = '[redacted]'

#: Openings of a reply that declines the request instead of writing a prompt. Only the
#: start of the reply is compared, so a prompt that contains "sorry" later still passes.
REFUSAL_OPENINGS = ("i'm sorry", 'i am sorry', "i’m sorry", 'sorry, i', "i can't",
                    'i can’t', 'i cannot', 'i can not', "i won't", 'i will not',
                    'i am unable', "i'm unable", 'i’m unable', 'as an ai')


class ChatEndpointError(TTMError):
    """A chat-completions request failed. The message names the cause and what to check."""


class EndpointUnreachable(ChatEndpointError):
    """No connection to the server, or no response within the timeout."""


class EndpointHTTPError(ChatEndpointError):
    """The server responded with an HTTP error status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class EmptyAnswer(ChatEndpointError):
    """The server responded without any text."""


class AnswerRefused(ChatEndpointError):
    """The model declined to write the prompt (content filter or a refusal reply)."""


class _Transient(Exception):
    """A failure worth retrying; `error` is raised when no attempt is left."""

    def __init__(self, error: ChatEndpointError, retry_after_s: Optional[float] = None):
        super().__init__(str(error))
        self.error = error
        self.retry_after_s = retry_after_s


def api_key_from_environment(environment: Mapping[str, str] = os.environ) -> Optional[str]:
    """Return the API key from the first set variable of `API_KEY_VARIABLES`, or None."""
    for name in API_KEY_VARIABLES:
        value = environment.get(name, '').strip()
        if value:
            return value
    return None


def endpoint_base(url: str) -> str:
    """Return the API base URL of `url`, without a trailing slash.

    The module docstring states the rule. Raise ConfigurationError for a URL that is
    not http(s) or that contains a user name or password.
    """
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ('http', 'https') or not parsed.hostname:
        raise ConfigurationError(
            f'endpoint {url!r} is invalid; give an http or https URL such as '
            'http://127.0.0.1:8000/v1')
    if parsed.username or parsed.password:
        raise ConfigurationError(
            'endpoint URL contains a user name or password; remove it and set the key in '
            'TTM_MLLM_API_KEY instead')
    path = parsed.path.rstrip('/')
    if path.endswith('/chat/completions'):
        path = path[:-len('/chat/completions')]
    elif not path:
        path = '/v1'
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, parsed.query, ''))


def endpoint_host(url: str) -> str:
    """Return `host[:port]` of `url`, without any user name or password in it."""
    parsed = urllib.parse.urlsplit(url.strip())
    host = parsed.hostname or ''
    if ':' in host:
        host = f'[{host}]'
    return f'{host}:{parsed.port}' if parsed.port else host


def is_loopback(url: str) -> bool:
    """Return whether the host of `url` is localhost or a loopback address."""
    host = urllib.parse.urlsplit(url).hostname or ''
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ChatClient:
    """Client that sends one user message (text and images) and returns the model's reply.

    `timeout_s` bounds each attempt (connect and read, in seconds), `retries` is the
    number of repeats after the first attempt, `backoff_s` the wait before the first
    repeat. `temperature` and `max_tokens` are sent only when set, because some models
    reject values other than their own defaults.
    """

    def __init__(self, base_url: str, model: str = '', *, api_key: Optional[str] = None,
                 timeout_s: float = 120.0, retries: int = 3, backoff_s: float = 1.0,
                 temperature: Optional[float] = None, max_tokens: Optional[int] = None,
                 sleep: Callable[[float], None] = time.sleep):
        if timeout_s <= 0 or retries < 0 or backoff_s < 0:
            raise ConfigurationError(
                f'chat client timeout_s={timeout_s}, retries={retries}, backoff_s={backoff_s} '
                'are invalid; use a positive timeout and non-negative retries and backoff')
        self.base_url = endpoint_base(base_url)
        self.host = endpoint_host(self.base_url)
        self.model = model
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._sleep = sleep
        if api_key and self.base_url.startswith('http:') and not is_loopback(self.base_url):
            LOGGER.warning('the API key is sent to %s over unencrypted http; use https for '
                           'servers beyond this machine', self.host)

    def __repr__(self) -> str:
        return f'ChatClient({self.base_url!r}, model={self.model!r})'

    def list_models(self) -> List[str]:
        """Return the model ids that `GET <base>/models` lists."""
        document = self._request_with_retries('GET', self.base_url + '/models', None)
        entries = document.get('data') if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ChatEndpointError(
                f'{self.base_url}/models returned no model list; pass the model name explicitly')
        return [str(entry.get('id')) for entry in entries if isinstance(entry, dict) and entry.get('id')]

    def served_model(self) -> str:
        """Return the one model the server lists.

        Raise ChatEndpointError, naming the models, when the server lists none or several.
        """
        models = self.list_models()
        if len(models) == 1:
            return models[0]
        shown = ', '.join(models[:10]) + (' ...' if len(models) > 10 else '')
        raise ChatEndpointError(
            f'{self.host} serves {len(models)} models ({shown or "none"}); choose one with '
            '--model NAME')

    def complete(self, text: str, image_urls: Sequence[str] = ()) -> str:
        """Send `text` with `image_urls` (http(s) or data URLs) as one user message and
        return the answer text, stripped of surrounding quotes, code fences and a
        leading `<think>` block."""
        if not self.model:
            raise ConfigurationError('chat client has no model name; set model or call '
                                     'served_model() first')
        started = time.monotonic()
        document = self._request_with_retries(
            'POST', self.base_url + '/chat/completions', self._payload(text, image_urls))
        answer = self._answer_text(document)
        LOGGER.info('model %s at %s answered %d characters in %.1f s', self.model, self.host,
                    len(answer), time.monotonic() - started)
        return answer

    # ----------------------------------------------------------------- requests
    def _payload(self, text: str, image_urls: Sequence[str]) -> Dict[str, Any]:
        content: Any = text
        if image_urls:
            content = [{'type': 'text', 'text': text}] + [
                {'type': 'image_url', 'image_url': {'url': url}} for url in image_urls]
        payload: Dict[str, Any] = {'model': self.model,
                                   'messages': [{'role': 'user', 'content': content}]}
        if self.temperature is not None:
            payload['temperature'] = self.temperature
        if self.max_tokens is not None:
            payload['max_tokens'] = self.max_tokens
        return payload

    def _request_with_retries(self, method: str, url: str, payload: Optional[dict]) -> Any:
        attempts = self.retries + 1
        attempt = 1
        while True:
            try:
                return self._request_once(method, url, payload)
            except _Transient as failure:
                if attempt == attempts:
                    raise failure.error from None
                delay = (failure.retry_after_s if failure.retry_after_s is not None
                         else self.backoff_s * 2 ** (attempt - 1))
                LOGGER.warning('%s %s failed (attempt %d of %d): %s; retrying in %.1f s',
                               method, self._redact(url), attempt, attempts, failure.error, delay)
                self._sleep(delay)
                attempt += 1

    def _request_once(self, method: str, url: str, payload: Optional[dict]) -> Any:
        headers = {'Accept': 'application/json', 'User-Agent': 'ttm-ros'}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        if self._api_key:
            headers['Authorization'] = f'Bearer {self._api_key}'
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            raise self._http_failure(error) from None
        except (TimeoutError, socket.timeout) as error:
            raise _Transient(self._timeout_error(error)) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, (TimeoutError, socket.timeout)):
                raise _Transient(self._timeout_error(error.reason)) from None
            raise _Transient(EndpointUnreachable(self._redact(
                f'cannot reach {self.base_url}: {error.reason}; check that the server runs '
                'and that --endpoint names its host and port'))) from None
        except ConnectionError as error:
            raise _Transient(EndpointUnreachable(self._redact(
                f'connection to {self.base_url} failed: {error}; check that the server '
                'runs'))) from None
        return self._decode(url, body)

    def _timeout_error(self, error: BaseException) -> EndpointUnreachable:
        return EndpointUnreachable(self._redact(
            f'{self.base_url} timed out after {self.timeout_s:g} s ({error}); raise --timeout '
            'for slow models or check the server load'))

    def _http_failure(self, error: urllib.error.HTTPError) -> Exception:
        status = error.code
        try:
            body = error.read().decode('utf-8', errors='replace')
        except OSError:
            body = ''
        excerpt = ' '.join(body.split())[:BODY_EXCERPT_CHARS]
        hint = {401: 'check TTM_MLLM_API_KEY (or OPENAI_API_KEY)',
                403: 'check that the API key may use this model',
                404: 'check the --endpoint path (usually ends in /v1) and the --model name',
                429: 'the server limits the request rate; wait and try again'}.get(
                    status, 'check the server log')
        failure = EndpointHTTPError(self._redact(
            f'{error.url or self.base_url} returned HTTP {status} {error.reason}: '
            f'{excerpt or "(empty body)"}; {hint}'), status)
        if status not in RETRY_STATUSES:
            return failure
        return _Transient(failure, self._retry_after(error.headers, status))

    @staticmethod
    def _retry_after(headers: Any, status: int) -> Optional[float]:
        if status not in (429, 503) or headers is None:
            return None
        try:
            return min(max(float(headers.get('Retry-After', '')), 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            return None

    def _decode(self, url: str, body: bytes) -> Any:
        try:
            return json.loads(body.decode('utf-8'))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            excerpt = ' '.join(body[:BODY_EXCERPT_CHARS].decode('utf-8', 'replace').split())
            raise ChatEndpointError(self._redact(
                f'{url} returned a body that is not JSON ({error}): {excerpt}; check that '
                '--endpoint names an OpenAI-compatible API')) from None

    # ------------------------------------------------------------------ answers
    def _answer_text(self, document: Any) -> str:
        choices = document.get('choices') if isinstance(document, dict) else None
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise EmptyAnswer(f'model {self.model} at {self.host} returned no choices; check '
                              'the server log')
        choice = choices[0]
        message = choice.get('message') or {}
        if choice.get('finish_reason') == 'content_filter':
            raise AnswerRefused(f'model {self.model} at {self.host} stopped at its content '
                                'filter; reword the task description or use another model')
        if message.get('refusal'):
            raise AnswerRefused(self._redact(
                f'model {self.model} at {self.host} refused the request: {message["refusal"]}; '
                'reword the task description or use another model'))
        answer = clean_answer(_content_text(message.get('content')))
        if not answer:
            raise EmptyAnswer(
                f'model {self.model} at {self.host} returned an empty response (finish_reason='
                f'{choice.get("finish_reason")!r}); raise --max-tokens if it ran out of tokens, '
                'or use another model')
        if answer.lower().startswith(REFUSAL_OPENINGS):
            raise AnswerRefused(self._redact(
                f'model {self.model} at {self.host} declined to write the prompt: '
                f'{answer[:BODY_EXCERPT_CHARS]!r}; reword the task description or use '
                'another model'))
        return answer

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, REDACTED) if self._api_key else text


def _content_text(content: Any) -> str:
    """Return the text of a message `content`: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return ''.join(part.get('text', '') for part in content
                       if isinstance(part, dict) and part.get('type') == 'text')
    return ''


def clean_answer(text: str) -> str:
    """Strip a leading `<think>...</think>` block (reasoning models), a lead-in line such
    as "Here is the prompt:", a surrounding code fence and surrounding quotes from an answer."""
    text = text.strip()
    if text.startswith('<think>') and '</think>' in text:
        text = text.split('</think>', 1)[1].strip()
    first_line, _, rest = text.partition('\n')
    if first_line.rstrip().endswith(':') and len(first_line.split()) <= MAX_LEAD_IN_WORDS and rest.strip():
        text = rest.strip()
    if text.startswith('```') and text.endswith('```') and len(text) >= 6:
        text = text[3:-3]
        first_line, _, rest = text.partition('\n')
        text = rest if first_line.strip().isalpha() and rest else text
        text = text.strip()
    for opening, closing in (('"', '"'), ("'", "'"), ('“', '”')):
        if len(text) >= 2 and text.startswith(opening) and text.endswith(closing):
            text = text[1:-1].strip()
    return text

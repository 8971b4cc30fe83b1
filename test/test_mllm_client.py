"""The chat-completions client and `ttm-ros prompt` against a scripted server on 127.0.0.1."""

import base64
import logging
import socket

import pytest
import yaml

from chat_server import ChatServer, Reply, answer
from ttm_ros import cli
from ttm_ros.core import mllm_client, prompts
from ttm_ros.core.errors import ConfigurationError
from ttm_ros.core.mllm_client import (AnswerRefused, ChatClient, ChatEndpointError, EmptyAnswer,
                                      EndpointHTTPError, EndpointUnreachable)
from ttm_ros.core.parameters import settings_from_values

API_KEY = 'sk-test-5e3f9a0c7b1d'  # a made-up key; must never leave the Authorization header


@pytest.fixture
def server():
    with ChatServer() as running:
        yield running


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Keep urllib from sending the loopback requests through a configured proxy."""
    for name in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY',
                 'all_proxy'):
        monkeypatch.delenv(name, raising=False)


def client_for(server, **options):
    sleeps = []
    options = {'api_key': API_KEY, 'timeout_s': 5.0, 'retries': 2, 'backoff_s': 0.25,
               'sleep': sleeps.append, **options}
    return ChatClient(server.url, 'test-model', **options), sleeps


def test_success_sends_text_and_key(server):
    client, sleeps = client_for(server)
    assert client.complete('write the prompt') == 'Make it a clear day.'
    [request] = server.requests
    assert request.path == '/v1/chat/completions'
    assert request.headers['Authorization'] == f'Bearer {API_KEY}'
    assert request.body['model'] == 'test-model'
    assert request.body['messages'] == [{'role': 'user', 'content': 'write the prompt'}]
    assert 'temperature' not in request.body
    assert sleeps == []


def test_image_attached_as_data_url(server):
    image = prompts.SourceImage('day.png', b'\x89PNG\r\n\x1a\n-pixels-', 'image/png')
    client, _ = client_for(server, temperature=0.2, max_tokens=300)
    client.complete('describe', [image.data_url()])
    body = server.requests[0].body
    text_part, image_part = body['messages'][0]['content']
    assert text_part == {'type': 'text', 'text': 'describe'}
    url = image_part['image_url']['url']
    assert url.startswith('data:image/png;base64,')
    assert base64.b64decode(url.split(',', 1)[1]) == image.data
    assert body['temperature'] == 0.2
    assert body['max_tokens'] == 300


def test_server_error_retried_then_succeeds(server, caplog):
    server.script += [Reply(500, {'error': 'overloaded'}), Reply(503, {'error': 'warming up'})]
    client, sleeps = client_for(server)
    with caplog.at_level(logging.WARNING, logger=mllm_client.__name__):
        assert client.complete('write') == 'Make it a clear day.'
    assert len(server.requests) == 3
    assert sleeps == [0.25, 0.5]
    assert 'HTTP 500' in caplog.text
    assert 'attempt 1 of 3' in caplog.text


def test_retry_after_header_used(server):
    server.script.append(Reply(429, {'error': 'slow down'}, headers={'Retry-After': '2'}))
    client, sleeps = client_for(server)
    client.complete('write')
    assert sleeps == [2.0]


def test_client_error_not_retried(server):
    server.script.append(Reply(401, {'error': {'message': 'invalid key'}}))
    client, sleeps = client_for(server)
    with pytest.raises(EndpointHTTPError) as error:
        client.complete('write')
    assert error.value.status == 401
    assert 'HTTP 401' in str(error.value)
    assert 'invalid key' in str(error.value)
    assert 'TTM_MLLM_API_KEY' in str(error.value)
    assert len(server.requests) == 1
    assert sleeps == []


def test_server_errors_exhaust_retries(server):
    server.script += [Reply(502, {'error': 'bad gateway'})] * 3
    client, sleeps = client_for(server)
    with pytest.raises(EndpointHTTPError, match='HTTP 502'):
        client.complete('write')
    assert len(server.requests) == 3
    assert sleeps == [0.25, 0.5]


def test_timeout_reported(server):
    server.script += [Reply(delay_s=1.5, body=answer('late')), Reply(delay_s=1.5, body=answer('late'))]
    client, sleeps = client_for(server, timeout_s=0.3, retries=1)
    with pytest.raises(EndpointUnreachable) as error:
        client.complete('write')
    assert 'timed out after 0.3 s' in str(error.value)
    assert len(server.requests) == 2
    assert sleeps == [0.25]


def test_unreachable_server_reported():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    client = ChatClient(f'http://127.0.0.1:{port}', 'm', retries=1, sleep=lambda s: None)
    with pytest.raises(EndpointUnreachable) as error:
        client.complete('write')
    assert f'127.0.0.1:{port}' in str(error.value)
    assert 'check that the server runs' in str(error.value)


@pytest.mark.parametrize('body', [
    answer(''),
    answer('   \n'),
    answer(None),
    {'choices': []},
    {'object': 'chat.completion'},
])
def test_empty_answer_rejected(server, body):
    server.script.append(Reply(body=body))
    client, _ = client_for(server)
    with pytest.raises(EmptyAnswer, match='test-model'):
        client.complete('write')
    assert len(server.requests) == 1


@pytest.mark.parametrize('body, fragment', [
    (answer('', finish_reason='content_filter'), 'content filter'),
    (answer(None, refusal='I cannot help with that.'), 'refused'),
    (answer("I'm sorry, but I can't help with editing photos."), 'declined'),
    (answer('I cannot write prompts for image editors.'), 'declined'),
])
def test_refusal_rejected(server, body, fragment):
    server.script.append(Reply(body=body))
    client, _ = client_for(server)
    with pytest.raises(AnswerRefused, match=fragment):
        client.complete('write')


@pytest.mark.parametrize('reply, expected', [
    ('"Make it noon."', 'Make it noon.'),
    ('```text\nMake it noon.\n```', 'Make it noon.'),
    ('<think>plan the prompt</think>\n\nMake it noon.', 'Make it noon.'),
    ('Make it noon; sorry clouds, you go too.', 'Make it noon; sorry clouds, you go too.'),
    ('Here is the prompt:\n\n"Make it noon."', 'Make it noon.'),
    ('Keep these: cars, people.\nMake it noon.', 'Keep these: cars, people.\nMake it noon.'),
])
def test_answer_cleaned(server, reply, expected):
    server.script.append(Reply(body=answer(reply)))
    client, _ = client_for(server)
    assert client.complete('write') == expected


def test_text_parts_joined(server):
    server.script.append(Reply(body=answer([{'type': 'text', 'text': 'Make it '},
                                            {'type': 'text', 'text': 'noon.'}])))
    client, _ = client_for(server)
    assert client.complete('write') == 'Make it noon.'


def test_non_json_body_rejected(server):
    server.script.append(Reply(body=b'<html>proxy login</html>'))
    client, _ = client_for(server)
    with pytest.raises(ChatEndpointError, match='not JSON'):
        client.complete('write')


def test_key_redacted_from_echoed_error(server, caplog):
    server.script += [Reply(500, {'echo': f'Authorization: Bearer {API_KEY}'})] * 2
    client, _ = client_for(server, retries=1)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(EndpointHTTPError) as error:
            client.complete('write')
    assert API_KEY not in str(error.value)
    assert mllm_client.REDACTED in str(error.value)
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(client)


@pytest.mark.parametrize('url, base', [
    ('http://127.0.0.1:8000', 'http://127.0.0.1:8000/v1'),
    ('http://127.0.0.1:8000/', 'http://127.0.0.1:8000/v1'),
    ('http://127.0.0.1:11434/v1/', 'http://127.0.0.1:11434/v1'),
    ('http://127.0.0.1:8080/v1/chat/completions', 'http://127.0.0.1:8080/v1'),
    ('https://llm.example.invalid/v1beta/openai/', 'https://llm.example.invalid/v1beta/openai'),
])
def test_endpoint_base_rule(url, base):
    assert mllm_client.endpoint_base(url) == base


@pytest.mark.parametrize('url', ['127.0.0.1:8000', 'ftp://127.0.0.1/v1', 'http:///v1',
                                 'http://user:pw@127.0.0.1:8000/v1'])
def test_invalid_endpoint_rejected(url):
    with pytest.raises(ConfigurationError, match='endpoint'):
        ChatClient(url, 'm')


def test_endpoint_host_drops_credentials():
    assert mllm_client.endpoint_host('https://user:secret@llm.example.invalid:8443/v1') == \
        'llm.example.invalid:8443'
    assert mllm_client.endpoint_host('http://[::1]:8000/v1') == '[::1]:8000'


def test_api_key_from_environment():
    assert mllm_client.api_key_from_environment({'TTM_MLLM_API_KEY': 'a', 'OPENAI_API_KEY': 'b'}) == 'a'
    assert mllm_client.api_key_from_environment({'TTM_MLLM_API_KEY': ' ', 'OPENAI_API_KEY': 'b'}) == 'b'
    assert mllm_client.api_key_from_environment({}) is None


def test_served_model_single_and_several():
    with ChatServer(models=['only-model']) as server:
        assert ChatClient(server.url).served_model() == 'only-model'
    with ChatServer(models=['a', 'b']) as server:
        with pytest.raises(ChatEndpointError, match='serves 2 models .a, b.*--model'):
            ChatClient(server.url).served_model()


# ------------------------------------------------------------------ ttm-ros prompt
def write_task(folder, images=(), **extra):
    path = folder / 'task.yaml'
    path.write_text(yaml.safe_dump({
        'task': 'segmentation of street scenes', 'editor': 'FLUX.2 klein 4B',
        'objective': 'clear-day look', 'domain_context': 'dashcam, Cityscapes training',
        'expected_shifts': ['night', 'snow'], 'preserve': ['every object'],
        'images': list(images), **extra}))
    return path


def test_prompt_command_warns_about_long_answer(server, tmp_path, capsys):
    task = write_task(tmp_path, max_words=5)
    server.default_answer = 'Make the frame a dry sunny noon and keep every object in place.'
    assert cli.main(['prompt', str(task), '--endpoint', server.url, '--model', 'test-model',
                     '--out', str(tmp_path / 'p.yaml')]) == 0
    assert 'the answer has 13 words, more than max_words 5' in capsys.readouterr().err
    assert prompts.read_prompt_file(tmp_path / 'p.yaml').prompt == server.default_answer


def test_prompt_command_writes_file_used_by_settings(server, tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setenv('TTM_MLLM_API_KEY', API_KEY)
    (tmp_path / 'day.jpg').write_bytes(b'\xff\xd8\xff\xe0-jpeg-bytes')
    task = write_task(tmp_path, ['day.jpg'])
    out = tmp_path / 'generated' / 'prompt.yaml'
    server.script.append(Reply(500, {'error': 'retry me'}))
    server.default_answer = 'Turn the frame into a dry, sunny noon; keep every object.'
    with caplog.at_level(logging.DEBUG):
        code = cli.main(['prompt', str(task), '--endpoint', server.url, '--out', str(out),
                         '--retries', '1', '--backoff', '0.01'])
    printed = capsys.readouterr()
    assert code == 0, printed.err

    # The model name came from /v1/models, the image went along, the key only in headers.
    assert [r.method for r in server.requests] == ['GET', 'POST', 'POST']
    assert server.requests[1].body['model'] == 'test-model'
    assert server.requests[1].headers['Authorization'] == f'Bearer {API_KEY}'
    content = server.requests[1].body['messages'][0]['content']
    assert content[1]['image_url']['url'].startswith('data:image/jpeg;base64,')
    for text in (printed.out, printed.err, caplog.text, out.read_text()):
        assert API_KEY not in text

    record = prompts.read_prompt_file(out)
    assert record.prompt == 'Turn the frame into a dry, sunny noon; keep every object.'
    assert record.provenance['model'] == 'test-model'
    assert record.provenance['endpoint_host'] == server.url.split('/')[2]
    assert record.provenance['meta_prompt'] == content[0]['text']
    assert record.provenance['images'][0]['path'] == 'day.jpg'
    assert len(record.provenance['images'][0]['sha256']) == 64
    assert settings_from_values({'translator.prompt': str(out)}).translator.prompt == record.prompt


def test_prompt_command_render_only_sends_nothing(server, tmp_path, capsys):
    task = write_task(tmp_path)
    assert cli.main(['prompt', str(task), '--render-only']) == 0
    assert '## Shifts the prompt must remove\n- night\n- snow' in capsys.readouterr().out
    assert cli.main(['prompt', str(task), '--render-only', '--out', str(tmp_path / 'm.txt')]) == 0
    assert (tmp_path / 'm.txt').read_text().startswith('You write the one text prompt')
    assert server.requests == []


def test_prompt_command_errors(server, tmp_path, capsys):
    task = write_task(tmp_path)
    assert cli.main(['prompt', str(task)]) == 2
    assert '--endpoint' in capsys.readouterr().err
    server.script.append(Reply(body=answer("I'm sorry, I can't do that.")))
    assert cli.main(['prompt', str(task), '--endpoint', server.url, '--model', 'test-model',
                     '--out', str(tmp_path / 'p.yaml')]) == 1
    assert 'declined' in capsys.readouterr().err
    assert not (tmp_path / 'p.yaml').exists()
    assert cli.main(['prompt', str(tmp_path / 'missing.yaml'), '--render-only']) == 2
    assert 'missing.yaml' in capsys.readouterr().err

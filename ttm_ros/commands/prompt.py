"""`ttm-ros prompt`: write a source-domain prompt file with a multimodal LLM.

Reads a task description (YAML), renders the meta-prompt, sends it with the task's
example images to an OpenAI-compatible chat-completions endpoint, and writes the
answer as a prompt file for `translator.prompt`. The API key is read from
TTM_MLLM_API_KEY (else OPENAI_API_KEY) only; it is never printed or written.
"""

import logging
import pathlib
import sys

HELP = 'write a source-domain prompt file from a task description with a multimodal LLM'


def add_arguments(parser) -> None:
    parser.add_argument('task', type=pathlib.Path,
                        help='task description YAML (example: config/prompts/tasks/'
                             'driving_segmentation.yaml)')
    parser.add_argument('--endpoint', default='',
                        help='base URL of an OpenAI-compatible server, e.g. '
                             'http://127.0.0.1:8000/v1 (required unless --render-only)')
    parser.add_argument('--model', default='',
                        help='model name on the server (default: the only model it lists)')
    parser.add_argument('--out', type=pathlib.Path, default=None,
                        help='prompt file to write (default: <task name>_prompt.yaml in the '
                             'current folder); with --render-only, the meta-prompt text file')
    parser.add_argument('--render-only', action='store_true',
                        help='print or write the meta-prompt and stop, without any request')
    parser.add_argument('--timeout', type=float, default=120.0,
                        help='seconds to wait for each request (default: 120)')
    parser.add_argument('--retries', type=int, default=3,
                        help='repeats after a connection error, timeout, HTTP 429 or 5xx '
                             '(default: 3)')
    parser.add_argument('--backoff', type=float, default=1.0,
                        help='seconds before the first repeat, doubled for each further one '
                             '(default: 1)')
    parser.add_argument('--temperature', type=float, default=None,
                        help='sampling temperature (default: not sent, the server default)')
    parser.add_argument('--max-tokens', type=int, default=None,
                        help='maximum number of tokens in the reply (default: not sent)')


def run(args) -> int:
    from ttm_ros.core import mllm_client, prompts

    # 1. Read the task and render the meta-prompt.
    task = prompts.load_task(args.task)
    meta_prompt = prompts.build_meta_prompt(task)
    if args.render_only:
        return _write_meta_prompt(meta_prompt, args.out)
    if not args.endpoint:
        print('ttm-ros prompt: give --endpoint URL of an OpenAI-compatible server (for example '
              'http://127.0.0.1:8000/v1), or --render-only to see the meta-prompt',
              file=sys.stderr)
        return 2

    # 2. Ask the model.
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    client = mllm_client.ChatClient(
        args.endpoint, args.model, api_key=mllm_client.api_key_from_environment(),
        timeout_s=args.timeout, retries=args.retries, backoff_s=args.backoff,
        temperature=args.temperature,
        max_tokens=args.max_tokens)
    try:
        client.model = client.model or client.served_model()
        answer = client.complete(meta_prompt, [image.data_url() for image in task.images])
    except mllm_client.ChatEndpointError as error:
        print(f'ttm-ros prompt: {error}', file=sys.stderr)
        return 1

    # 3. Save the prompt with its provenance.
    out = (args.out or pathlib.Path(f'{args.task.stem}_prompt.yaml')).resolve()
    record = prompts.PromptRecord(answer, provenance=prompts.provenance(
        meta_prompt, client.model, client.host, args.task, task.images))
    prompts.write_prompt_file(out, record)
    print(answer)
    words = len(answer.split())
    if task.max_words is not None and words > task.max_words:
        print(f'ttm-ros prompt: warning: the answer has {words} words, more than max_words '
              f'{task.max_words} of {args.task}; text encoders cut long prompts (CLIP reads 77 '
              'tokens), so shorten the file or ask again', file=sys.stderr)
    print(f'wrote {out}; use it with -p translator.prompt={out}')
    return 0


def _write_meta_prompt(meta_prompt: str, out) -> int:
    if out is None:
        sys.stdout.write(meta_prompt)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(meta_prompt, encoding='utf-8')
    print(f'wrote the meta-prompt to {out}')
    return 0

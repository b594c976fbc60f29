"""The policy's chat markup is removed before judging, and ground truths reach the judge as
JSON on every route.

OpenRLHF decodes the query with the policy's tokenizer, special tokens kept. The renderings
below follow each family's chat template (``chat_template`` of Llama-3-Instruct, Qwen2.5,
Gemma-2, Mistral-Instruct v0.3 / v7, DeepSeek-V3 / R1, Phi-3): each must give the judge the
same plain question and response, with the policy's system prompt dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fake_engine import FakeEngine
from fault_engine import verdict_script

from grm import RewardModel
from grm.ground_truth import label_text
from grm.serve.chat_formats import conversation, detect, format_names

SYSTEM = "You are a helpful assistant."
QUESTION = "What is 2 + 2?"
ANSWER = "It is 4."

RENDERED = {
    "llama3": (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        f"{SYSTEM}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{QUESTION}<|eot_id|>"
        f"<|start_header_id|>assistant<|end_header_id|>\n\n{ANSWER}<|eot_id|>"
    ),
    "chatml": (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n"
        f"<|im_start|>assistant\n{ANSWER}<|im_end|><|endoftext|>"
    ),
    "gemma": (  # Gemma has no system role: its template refuses one
        f"<bos><start_of_turn>user\n{QUESTION}<end_of_turn>\n"
        f"<start_of_turn>model\n{ANSWER}<end_of_turn>\n<eos>"
    ),
    "mistral": f"<s>[SYSTEM_PROMPT]{SYSTEM}[/SYSTEM_PROMPT][INST] {QUESTION} [/INST]{ANSWER}</s>",
    "deepseek": (
        f"<｜begin▁of▁sentence｜>{SYSTEM}<｜User｜>{QUESTION}<｜Assistant｜>{ANSWER}"
        "<｜end▁of▁sentence｜>"
    ),
    "phi3": (
        f"<|system|>\n{SYSTEM}<|end|>\n<|user|>\n{QUESTION}<|end|>\n<|assistant|>\n{ANSWER}"
        "<|end|>\n<|endoftext|>"
    ),
}


def prompt_part(rendered: str) -> str:
    """The prompt as OpenRLHF sends it beside the query: everything before the answer."""
    return rendered[: rendered.index(ANSWER)]


@pytest.mark.parametrize("name", list(RENDERED))
def test_each_chat_format_gives_the_same_plain_conversation(name: str) -> None:
    text = RENDERED[name]
    assert detect(text) == name
    got = conversation(text)
    assert got is not None and (got.prompt, got.response) == (QUESTION, ANSWER)
    asked = conversation(prompt_part(text))
    assert asked is not None and (asked.prompt, asked.response) == (QUESTION, "")


def test_the_registry_covers_every_rendering_and_plain_text_is_left_alone() -> None:
    assert set(format_names()) == set(RENDERED)
    assert detect("What is 2 + 2? It is 4.") is None and conversation("plain") is None


def test_a_multi_turn_query_keeps_earlier_turns_as_context() -> None:
    text = (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
        f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n{ANSWER}<|im_end|>"
    )
    got = conversation(text)
    assert got is not None and got.response == ANSWER
    assert got.prompt == f"user: Hi\nassistant: Hello!\nuser: {QUESTION}"


class Recording(FakeEngine):
    """The scripted judge, keeping every prompt it was sent."""

    def __init__(self) -> None:
        super().__init__(verdict_script)
        self.prompts: list[str] = []

    def generate(self, requests: Any, sampling: Any) -> Any:
        self.prompts.extend(r.prompt for r in requests)
        return super().generate(requests, sampling)


def judged_prompts(body: dict[str, Any], path: str = "/get_reward") -> list[str]:
    from fastapi.testclient import TestClient

    from grm.serve import create_app

    engine = Recording()
    with TestClient(create_app(RewardModel(engine)), base_url="http://localhost") as client:
        r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    return engine.prompts


def test_get_reward_sends_the_judge_the_same_prompt_for_every_policy_format() -> None:
    plain = judged_prompts({"query": [f"{QUESTION} {ANSWER}"], "prompts": [QUESTION],
                            "labels": ["4"]})  # fmt: skip
    assert plain and all(ANSWER in p and QUESTION in p for p in plain)
    for name, text in RENDERED.items():
        body = {"query": [text], "prompts": [prompt_part(text)], "labels": ["4"]}
        got = judged_prompts(body)
        assert got == plain, name
        assert not any(SYSTEM in p or "<|" in p or "[INST]" in p for p in got), name


def test_a_named_policy_tokenizer_fixes_its_format(default_tokenizer: Any) -> None:
    from grm.serve.service import policy_format

    assert policy_format(default_tokenizer) == "chatml"  # SmolLM2's template is ChatML


@pytest.mark.parametrize(
    "truth",
    [
        ["42", "forty-two"],
        np.array(["42", "forty-two"], dtype=object),
        {"answer": 42, "unit": None},
        np.int64(42),
        np.float64(0.5),
        (1, 2),
    ],
)
def test_ground_truths_reach_the_judge_as_json_on_every_face(truth: Any) -> None:
    from grm.adapters.verl import _item

    text = label_text(truth)
    assert text is not None and "array(" not in text and "' '" not in text
    item = _item("gsm8k", "It is 4.", truth, {"question": QUESTION})
    assert item is not None and item["responses"][1] == text
    listed = truth.tolist() if hasattr(truth, "tolist") else truth
    body = {"query": [f"{QUESTION} {ANSWER}"], "prompts": [QUESTION], "labels": [listed]}
    assert all(text in p for p in judged_prompts(body))

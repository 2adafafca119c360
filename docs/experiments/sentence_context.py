"""How much of a sentence's local-space embedding comes from the rest of its report.

Phrase grounding and local zero-shot prompts embed a phrase alone; the local term embeds each sentence inside its
report. For every sentence of the demo's validation reports this prints the mean cosine between the two
embeddings of the same sentence, next to the mean cosine between a sentence alone and the report's other
sentences in context. 1.0 for the first means the query that grounding uses is the one the local term trained.

    python docs/experiments/sentence_context.py runs130/s0/models/model.pt runs130/s0/models/tokenizer
    python docs/experiments/sentence_context.py none runs130/s0/models/tokenizer --seed 0   # random init

Extra ``key=value`` arguments override the pretraining config (e.g. ``text_encoder#isolate_sentences=true``).
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from monai.bundle import ConfigParser

from msfm.data import TokenizeReportd
from msfm.networks import load_network_weights

CONFIGS = ["bundles/common/configs/workflow.json", "bundles/msfm/configs/train.json", "bundles/msfm/configs/demo.json"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="model.pt, or 'none' for a random initialisation")
    parser.add_argument("tokenizer_dir")
    parser.add_argument("overrides", nargs="*", help="config overrides as key=value (JSON values)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datalist", default="data/msfm_demo/datalist.json")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    config = ConfigParser()
    config.read_config(CONFIGS)
    config["tokenizer_dir"] = args.tokenizer_dir
    for override in args.overrides:
        key, value = override.split("=", 1)
        config[key] = json.loads(value)
    network = config.get_parsed_content("network_def")
    load_network_weights(network, None if args.checkpoint == "none" else args.checkpoint).eval()
    tokenizer = config.get_parsed_content("tokenizer")
    tokenize = TokenizeReportd(
        keys="report", tokenizer=tokenizer, max_length=config["max_length"], max_sentences=config["max_sentences"]
    )
    same, other = [], []
    with open(args.datalist) as f:
        reports = [item["report"] for item in json.load(f)["validation"]]
    with torch.no_grad():
        for report in reports:
            tokens = tokenize({"report": report})
            ids, mask, index = (torch.as_tensor(tokens[k])[None] for k in ("input_ids", "attention_mask", "sentence_index"))
            count = int(index.max()) + 1
            in_report = network(torch.zeros(1, 1, config["image_size"], config["image_size"]), ids, mask, index)
            in_report = F.normalize(in_report["sentence_emb"][0, :count], dim=-1)
            alone = []
            for sentence in range(count):
                phrase = torch.cat([ids[0, :1], ids[0][index[0] == sentence], torch.tensor([tokenizer.sep_token_id])])
                phrase_index = torch.full_like(phrase, -1)
                phrase_index[1:-1] = 0
                alone.append(network.encode_phrase(phrase[None], torch.ones_like(phrase)[None], phrase_index[None])[0])
            cosine = in_report @ torch.stack(alone).T
            same += cosine.diag().tolist()
            other += cosine[~torch.eye(count, dtype=torch.bool)].tolist()
    print(
        f"{args.checkpoint}: cos(sentence in its report, the same sentence alone) {sum(same) / len(same):.3f}; "
        f"with the report's other sentences {sum(other) / len(other):.3f} ({len(same)} sentences)"
    )


if __name__ == "__main__":
    main()

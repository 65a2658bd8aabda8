"""Reference outputs of a real pre-trained BERT from transformers itself (BertForSequenceClassification).

    python pretrained_reference.py MODEL_DIR OUT_DIR --text "..." [--text-pair "..."] [--labels 2] [--seed 0]

Loads MODEL_DIR (a Hugging Face or sentence-transformers folder with the BERT in its root) with
transformers, gives it a classifier head of unit scale drawn with torch's seed (the checkpoint has none), saves
the whole model with save_pretrained (safetensors) into OUT_DIR together with the tokenizer files,
and writes OUT_DIR/expected.json: the tokenizer's ids and, for that input, the logits, the [CLS]
vector after the embeddings and after every layer, and every attention map (eager attention), in
float32. The Distillery side (`distillery inspect OUT_DIR --json`) must reproduce them.
"""
import argparse
import json
import os
import shutil

import torch
from transformers import AutoTokenizer, BertForSequenceClassification

p = argparse.ArgumentParser()
p.add_argument('model_dir')
p.add_argument('out_dir')
p.add_argument('--text', required=True)
p.add_argument('--text-pair')
p.add_argument('--labels', type=int, default=2)
p.add_argument('--seed', type=int, default=0)
a = p.parse_args()

torch.manual_seed(a.seed)
model = BertForSequenceClassification.from_pretrained(a.model_dir, num_labels=a.labels, attn_implementation='eager')
# A head of unit scale (not the 0.02 of a new head), so that the logits are O(1) and 1e-4 on them means something.
with torch.no_grad():
    model.classifier.weight.normal_(0.0, 1.0)
    model.classifier.bias.uniform_(-1.0, 1.0)
model.eval()
tok = AutoTokenizer.from_pretrained(a.model_dir)
enc = tok(a.text, a.text_pair, return_tensors='pt') if a.text_pair is not None else tok(a.text, return_tensors='pt')
with torch.no_grad():
    out = model(**enc, output_hidden_states=True, output_attentions=True)

os.makedirs(a.out_dir, exist_ok=True)
model.save_pretrained(a.out_dir, safe_serialization=True)
for f in ('vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json'):
    src = os.path.join(a.model_dir, f)
    if os.path.exists(src):
        shutil.copyfile(src, os.path.join(a.out_dir, f))
expected = {
    'input_ids': enc['input_ids'][0].tolist(),
    'token_type_ids': enc['token_type_ids'][0].tolist(),
    'logits': out.logits[0].tolist(),
    'cls_hidden_states': [h[0, 0].tolist() for h in out.hidden_states],
    'attentions': [x[0].tolist() for x in out.attentions],
    'transformers': __import__('transformers').__version__,
    'torch': torch.__version__,
}
with open(os.path.join(a.out_dir, 'expected.json'), 'w') as f:
    json.dump(expected, f)

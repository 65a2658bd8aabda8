#!/usr/bin/env python3
"""An independent reference for the TF.js BERT: the same architecture assembled from torch's own
modules (nn.Embedding, nn.LayerNorm, nn.TransformerEncoderLayer, nn.Linear), not from Hugging
Face code, with seeded random weights. Writes a Hugging Face folder (config.json,
model.safetensors, vocab.txt) and expected.json with inputs and the reference outputs.

Run with the project's .venv/bin/python (scripts/setup-python.sh; it has torch and numpy):
  .venv/bin/python test/reference/make_reference.py OUT_DIR --seed 1 --layers 2 --hidden 32 --heads 4

With --text (and --text-pair) the inputs are that one text (pair) tokenised by the reference's own
vocabulary, instead of two random pairs, so a test can feed the same text through the CLI.
"""
import argparse
import json
import math
import os
import re
import struct

import numpy as np
import torch
from torch import nn

SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
WORDS = ['the', 'a', 'cat', 'dog', 'sat', 'on', 'mat', 'ran', 'fast', 'slow', 'red', 'blue', 'is',
         'was', 'big', 'small', 'and', 'or', 'not', 'very', 'good', 'bad', 'movie', 'film', 'it']
PAD, UNK, CLS, SEP = 0, 1, 2, 3


class ReferenceBert(nn.Module):
    """BERT (post-LayerNorm, erf GELU) from stock torch modules."""

    def __init__(self, a):
        super().__init__()
        self.word = nn.Embedding(a.vocab_size, a.hidden, padding_idx=PAD)
        self.position = nn.Embedding(a.max_pos, a.hidden)
        self.token_type = nn.Embedding(a.type_vocab, a.hidden)
        self.emb_norm = nn.LayerNorm(a.hidden, eps=a.eps)
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(a.hidden, a.heads, a.intermediate, dropout=0.0, activation='gelu',
                                       layer_norm_eps=a.eps, batch_first=True, norm_first=False)
            for _ in range(a.layers)])
        self.pooler = nn.Linear(a.hidden, a.hidden)
        self.classifier = nn.Linear(a.hidden, a.num_labels)

    def forward(self, input_ids, token_type_ids, attention_mask):
        s = input_ids.shape[1]
        positions = torch.arange(s).unsqueeze(0)
        x = self.emb_norm(self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids))
        padding = attention_mask == 0  # True = ignore this key
        hidden, attentions = [x], []
        for layer in self.layers:
            _, probs = layer.self_attn(x, x, x, key_padding_mask=padding, need_weights=True,
                                       average_attn_weights=False)
            attentions.append(probs)
            x = layer(x, src_key_padding_mask=padding)
            hidden.append(x)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.classifier(pooled), hidden, attentions


def randomize(model, a, gen):
    """Non-trivial values everywhere: scaled normals for weights, non-zero biases, LayerNorm
    weights around 1, so a wrong transpose, a missing bias or a swapped LayerNorm shows."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'norm' in name and name.endswith('weight'):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith('bias'):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif name in ('word.weight', 'position.weight', 'token_type.weight'):
                p.copy_(a.emb_std * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(a.std * torch.randn(p.shape, generator=gen))
        model.word.weight[PAD].zero_()


def hf_tensors(model, a):
    """The reference's parameters under Hugging Face BertForSequenceClassification names."""
    t = {}
    emb = 'bert.embeddings.'
    t[emb + 'word_embeddings.weight'] = model.word.weight
    t[emb + 'position_embeddings.weight'] = model.position.weight
    t[emb + 'token_type_embeddings.weight'] = model.token_type.weight
    t[emb + 'LayerNorm.weight'] = model.emb_norm.weight
    t[emb + 'LayerNorm.bias'] = model.emb_norm.bias
    h = a.hidden
    for i, layer in enumerate(model.layers):
        p = f'bert.encoder.layer.{i}.'
        w, b = layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias
        for j, part in enumerate(['query', 'key', 'value']):
            t[p + f'attention.self.{part}.weight'] = w[j * h:(j + 1) * h]
            t[p + f'attention.self.{part}.bias'] = b[j * h:(j + 1) * h]
        t[p + 'attention.output.dense.weight'] = layer.self_attn.out_proj.weight
        t[p + 'attention.output.dense.bias'] = layer.self_attn.out_proj.bias
        t[p + 'attention.output.LayerNorm.weight'] = layer.norm1.weight
        t[p + 'attention.output.LayerNorm.bias'] = layer.norm1.bias
        t[p + 'intermediate.dense.weight'] = layer.linear1.weight
        t[p + 'intermediate.dense.bias'] = layer.linear1.bias
        t[p + 'output.dense.weight'] = layer.linear2.weight
        t[p + 'output.dense.bias'] = layer.linear2.bias
        t[p + 'output.LayerNorm.weight'] = layer.norm2.weight
        t[p + 'output.LayerNorm.bias'] = layer.norm2.bias
    t['bert.pooler.dense.weight'] = model.pooler.weight
    t['bert.pooler.dense.bias'] = model.pooler.bias
    t['classifier.weight'] = model.classifier.weight
    t['classifier.bias'] = model.classifier.bias
    return {k: v.detach().to(torch.float32).contiguous().numpy() for k, v in t.items()}


def write_safetensors(path, tensors):
    """The safetensors layout (no safetensors package here): u64 header length, JSON header, data."""
    header, blobs, offset = {'__metadata__': {'format': 'pt'}}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype='<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(',', ':')).encode('utf-8')
    raw += b' ' * ((8 - len(raw) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)


def hf_config(a):
    labels = {str(i): f'LABEL_{i}' for i in range(a.num_labels)}
    cfg = {
        'architectures': ['BertForSequenceClassification'],
        'model_type': 'bert',
        'vocab_size': a.vocab_size,
        'hidden_size': a.hidden,
        'num_hidden_layers': a.layers,
        'num_attention_heads': a.heads,
        'intermediate_size': a.intermediate,
        'hidden_act': 'gelu',
        'hidden_dropout_prob': 0.1,
        'attention_probs_dropout_prob': 0.1,
        'max_position_embeddings': a.max_pos,
        'type_vocab_size': a.type_vocab,
        'initializer_range': 0.02,
        'layer_norm_eps': a.eps,
        'pad_token_id': PAD,
        'position_embedding_type': 'absolute',
        'id2label': labels,
        'label2id': {v: int(k) for k, v in labels.items()},
        'torch_dtype': 'float32',
    }
    if a.num_labels == 1:
        cfg['problem_type'] = 'regression'
    return cfg


def make_inputs(gen, vocab_size):
    """Two sentence pairs of different lengths, padded to one length, with segment ids."""
    def words(n):
        return [len(SPECIAL) + int(i) for i in torch.randint(0, vocab_size - len(SPECIAL), (n,), generator=gen)]
    pairs = [(words(4), words(3)), (words(6), words(5))]
    seqs, types = [], []
    for first, second in pairs:
        seqs.append([CLS] + first + [SEP] + second + [SEP])
        types.append([0] * (len(first) + 2) + [1] * (len(second) + 1))
    s = max(len(x) for x in seqs)
    ids = [x + [PAD] * (s - len(x)) for x in seqs]
    mask = [[1] * len(x) + [0] * (s - len(x)) for x in seqs]
    tt = [x + [0] * (s - len(x)) for x in types]
    return ids, tt, mask


def text_inputs(text, pair, vocab):
    """One sequence from text: lower-cased, split at whitespace and around punctuation, each word
    looked up whole (the vocabulary has no ## pieces, so a word not in it is [UNK])."""
    ids = {tok: i for i, tok in enumerate(vocab)}

    def words(t):
        return [ids.get(w, UNK) for w in re.findall(r'\w+|[^\w\s]', t.lower())]
    first = words(text)
    seq = [CLS] + first + [SEP]
    types = [0] * len(seq)
    if pair is not None:
        second = words(pair)
        seq += second + [SEP]
        types += [1] * (len(second) + 1)
    return [seq], [types], [[1] * len(seq)]


def run(model, ids, tt, mask, dtype):
    m = model.to(dtype)
    m.train()  # dropout is 0; train mode keeps torch off its fused inference fast path
    with torch.no_grad():
        logits, hidden, attentions = m(torch.tensor(ids), torch.tensor(tt), torch.tensor(mask))
    return {
        'logits': logits.double().tolist(),
        'cls_hidden_states': [x[:, 0].double().tolist() for x in hidden],
        'hidden_states': [x.double().tolist() for x in hidden],
        'attentions': [p.double().tolist() for p in attentions],
    }


def max_abs_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('out')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--layers', type=int, default=2)
    ap.add_argument('--hidden', type=int, default=32)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--intermediate', type=int, default=None, help='default 4 × hidden')
    ap.add_argument('--num-labels', type=int, default=2)
    ap.add_argument('--eps', type=float, default=1e-12)
    ap.add_argument('--max-pos', type=int, default=32)
    ap.add_argument('--type-vocab', type=int, default=2)
    ap.add_argument('--std', type=float, default=0.2, help='std of the Linear weights')
    ap.add_argument('--emb-std', type=float, default=0.5,
                    help='std of the embedding tables; a small value makes layer_norm_eps matter in the embeddings LayerNorm')
    ap.add_argument('--text', default=None, help='compute on this text (tokenised by the reference vocabulary) instead of random pairs')
    ap.add_argument('--text-pair', default=None, help='second segment for --text')
    a = ap.parse_args()
    if a.intermediate is None:
        a.intermediate = 4 * a.hidden
    a.vocab_size = len(SPECIAL) + len(WORDS)

    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    model = ReferenceBert(a)
    randomize(model, a, gen)
    ids, tt, mask = make_inputs(gen, a.vocab_size)
    if a.text is not None:
        # Drawn above all the same, so the weights of a given seed do not depend on --text.
        ids, tt, mask = text_inputs(a.text, a.text_pair, SPECIAL + WORDS)
        if len(ids[0]) > a.max_pos:
            ap.error(f'--text gives {len(ids[0])} tokens, more than --max-pos {a.max_pos}')
    elif a.text_pair is not None:
        ap.error('--text-pair needs --text')

    os.makedirs(a.out, exist_ok=True)
    write_safetensors(os.path.join(a.out, 'model.safetensors'), hf_tensors(model, a))
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(hf_config(a), f, indent=2)
    with open(os.path.join(a.out, 'vocab.txt'), 'w') as f:
        f.write('\n'.join(SPECIAL + WORDS) + '\n')

    f32 = run(model, ids, tt, mask, torch.float32)
    f64 = run(model, ids, tt, mask, torch.float64)
    expected = {
        'args': {k: v for k, v in vars(a).items() if k != 'out'},
        'inputs': {'input_ids': ids, 'token_type_ids': tt, 'attention_mask': mask},
        'float32': f32,
        'float64': f64,
        # How far torch's own float32 run is from float64: the scale of honest rounding error.
        'float32_vs_float64': {
            'logits': max_abs_diff(f32['logits'], f64['logits']),
            'cls_hidden_states': max(max_abs_diff(x, y) for x, y in zip(f32['cls_hidden_states'], f64['cls_hidden_states'])),
            'attentions': max(max_abs_diff(x, y) for x, y in zip(f32['attentions'], f64['attentions'])),
        },
    }
    with open(os.path.join(a.out, 'expected.json'), 'w') as f:
        json.dump(expected, f)


if __name__ == '__main__':
    main()

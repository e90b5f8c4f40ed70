#!/usr/bin/python3
"""Writes tests/data/audio/frontends.pth: reference front-end outputs from torchaudio 0.13.

Run with Debian's interpreter (python3-torchaudio 0.13.1):
    /usr/bin/python3 scripts/audio-frontend-fixtures.py
The C++ parity test (tests/audio/test_frontend.cpp) rebuilds each configuration below with
dfscan::audio::FrontEndConfig and must agree within 1e-4 relative. The file is a plain
{"name": tensor} dict: "wave" (the input, 1 x N float32 at 16 kHz) and one "<case>" tensor per
configuration (1 x features x frames, float32). Keep the case names and parameters in step with
kCases in the test.
"""
import math
import pathlib

import torch
import torchaudio
import torchaudio.functional as AF
import torchaudio.transforms as T

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "audio" / "frontends.pth"
SR = 16000


def test_wave():
    # 0.6 s: a rising chirp, two steady tones, a burst of noise and a stretch of near-silence,
    # so that dB floors, top_db clamping and the filter edges are all exercised.
    g = torch.Generator().manual_seed(1234)
    n = int(0.6 * SR)
    t = torch.arange(n, dtype=torch.float64) / SR
    chirp = torch.sin(2 * math.pi * (100 * t + 0.5 * 6000 * t * t))
    tones = 0.3 * torch.sin(2 * math.pi * 440 * t) + 0.2 * torch.sin(2 * math.pi * 3100 * t)
    noise = torch.randn(n, generator=g, dtype=torch.float64) * 0.05
    x = 0.5 * chirp + tones + noise
    x[int(0.45 * SR):int(0.5 * SR)] *= 1e-4
    return x.float().unsqueeze(0)


def with_deltas(feats, order):
    out = [feats]
    for _ in range(order):
        out.append(AF.compute_deltas(out[-1], win_length=5))
    return torch.cat(out, dim=-2)


def main():
    torch.manual_seed(0)
    wave = test_wave()
    cases = {}
    cases["spec_power2"] = T.Spectrogram(n_fft=512, win_length=400, hop_length=160, power=2.0)(wave)
    cases["spec_mag_norm"] = T.Spectrogram(n_fft=256, hop_length=100, power=1.0, normalized=True)(wave)
    cases["spec_db"] = T.AmplitudeToDB("power", top_db=80.0)(
        T.Spectrogram(n_fft=512, win_length=400, hop_length=160, power=2.0)(wave))
    cases["spec_nocenter"] = T.Spectrogram(n_fft=400, hop_length=160, center=False, power=2.0)(wave)
    cases["mel"] = T.MelSpectrogram(SR, n_fft=512, win_length=400, hop_length=160, n_mels=64,
                                    f_min=20.0, f_max=7600.0)(wave)
    cases["logmel_db"] = T.AmplitudeToDB("power", top_db=80.0)(
        T.MelSpectrogram(SR, n_fft=512, win_length=400, hop_length=160, n_mels=64, f_min=20.0,
                         f_max=7600.0)(wave))
    cases["logmel_slaney"] = T.AmplitudeToDB("power", top_db=None)(
        T.MelSpectrogram(SR, n_fft=400, hop_length=160, n_mels=40, norm="slaney",
                         mel_scale="slaney")(wave))
    cases["mfcc"] = T.MFCC(SR, n_mfcc=20, melkwargs={"n_fft": 512, "win_length": 400,
                                                     "hop_length": 160, "n_mels": 40})(wave)
    cases["mfcc_logmels"] = T.MFCC(SR, n_mfcc=13, log_mels=True,
                                   melkwargs={"n_fft": 400, "hop_length": 160, "n_mels": 23})(wave)
    # ASVspoof 2019/2021 LFCC baseline shape: 20 ms window, 10 ms hop, 512-point FFT, 20 linear
    # filters, 20 coefficients plus deltas and double deltas.
    lfcc = T.LFCC(SR, n_filter=20, n_lfcc=20,
                  speckwargs={"n_fft": 512, "win_length": 320, "hop_length": 160})(wave)
    cases["lfcc"] = lfcc
    cases["lfcc_deltas"] = with_deltas(lfcc, 2)
    cases["lfcc_log"] = T.LFCC(SR, n_filter=30, n_lfcc=15, log_lf=True, f_min=50.0, f_max=7000.0,
                               speckwargs={"n_fft": 512, "win_length": 400,
                                           "hop_length": 200})(wave)
    state = {"wave": wave.contiguous()}
    for name, value in cases.items():
        state[name] = value.contiguous().float()
        print(f"{name}: {tuple(value.shape)}")
    state["torchaudio_version"] = torch.tensor([int(p) for p in torchaudio.__version__.split(".")[:3]])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

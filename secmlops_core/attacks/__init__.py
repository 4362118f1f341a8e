"""The attack lab: attacks and defenses against the live pedestrian detector, and the trade-off table.

- :mod:`.catalog`: attacks and defenses as data (ids double as threat rules' ``demo:`` ids), checked parameters, presets.
- :mod:`.model`: the detector as an attack target (float32 copy, ultralytics loss adapter for ART).
- :mod:`.evasion` (FGSM/PGD vanish, ghost, flip), :mod:`.patch`, :mod:`.classifier_view` (DeepFool,
  HopSkipJump), :mod:`.finetune` (poisoning, adversarial training, candidates and their promotion).
- :mod:`.defenses`: ART preprocessors and the detection-instability check.
- :mod:`.runs`: one stored, replayable run (as a background job); :mod:`.evaluation`: the trade-off table.

Heavy imports (torch, ART, ultralytics) happen inside the modules that need them.
"""

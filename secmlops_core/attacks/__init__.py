"""The attack lab: attacks and defenses against the live pedestrian detector, and the trade-off table.

- :mod:`.specs`: attacks and defenses as data (ids double as threat rules' ``demo:`` ids), checked parameters, presets.
- :mod:`.model`: the detector as an attack target (float32 copy, ultralytics loss adapter for ART).
- :mod:`.request`: the raw request a form or the command line gives, checked once into a typed request.
- :mod:`.families`: one ``run(frame_attack) -> outcome`` interface per family of frame attacks, over
  :mod:`.evasion` (FGSM/PGD vanish, ghost, flip), :mod:`.patch` and :mod:`.crop_classifier` (DeepFool,
  HopSkipJump on pedestrian crops); :mod:`.finetune` (poisoning, adversarial training, candidates and
  their promotion) and :mod:`.poisoning_run` (the poisoning run).
- :mod:`.outcome`: what an attack did (counts, recall, success per goal, result images), measured alike everywhere.
- :mod:`.defenses`: ART preprocessors and the detection-instability check.
- :mod:`.runs`: one stored, replayable run (as a background job); :mod:`.evaluation`: the trade-off table;
  :mod:`.hardening`: adversarial training as a measured candidate.

Heavy imports (torch, ART, ultralytics) happen inside the modules that need them.
"""

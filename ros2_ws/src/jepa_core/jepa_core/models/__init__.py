"""V-JEPA 2 networks with the official state_dict layout: encoder, pretraining predictor, AC predictor."""

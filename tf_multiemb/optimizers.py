"""Adam with coupled L2 weight decay, as PyTorch's `Adam(weight_decay=...)` used by the paper.

The paper's protocol (Appendix C.2) trains with Adam, lr 1e-3 and weight decay 1e-6 on all
parameters, where the decay is added to the gradient (g + wd * w) before the adaptive moments.
Keras' own `weight_decay` argument is the decoupled AdamW form, which behaves differently on
rarely-updated embedding rows, so this class adds the coupled form.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_multiemb")
class AdamL2(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose gradient is g + l2 * w (coupled L2 weight decay)."""

    def __init__(self, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable, learning_rate):
        if self.l2:
            gradient = ops.add(ops.convert_to_tensor(gradient),
                               ops.multiply(ops.cast(self.l2, variable.dtype), variable))
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["l2"] = self.l2
        return config

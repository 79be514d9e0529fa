# Training curves: loss, training accuracy and learning rate per epoch of every trained checkpoint.


rule training_curves:
    input:
        trained_checkpoints,
    output:
        figure=report(
            "results/{run}/{dataset}/training_curves.png",
            caption="../report/training_curves.rst",
            category="Training",
            subcategory="{dataset}",
        ),
        numbers="results/{run}/{dataset}/training_curves.csv",
    log:
        "logs/training_curves/{run}/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        root=lambda w: paths.models(config, w.dataset),
        tensorboard="results/{run}/{dataset}/tensorboard",
        code=code("training-curves"),
    shell:
        "python -m twostream training-curves --dataset {wildcards.dataset:q} --checkpoints {input:q}"
        " --root {params.root:q} --tensorboard {params.tensorboard:q} --out {output.figure:q} > {log:q} 2>&1"

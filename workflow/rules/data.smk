# Data: synthetic generation, ingest, flow + pack in chunks, shard index.


rule synthetic:
    output:
        directory("data/{dataset}"),
    log:
        "logs/synthetic/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        spec=spec(specs.SyntheticSpec),
        code=code("synthetic"),
    shell:
        "python -m twostream synthetic --spec {params.spec:q} --out {output} > {log} 2>&1"


checkpoint ingest:
    input:
        ingest_inputs,
    output:
        manifest="results/{dataset}/manifest.csv",
        failures="results/{dataset}/ingest_failures.csv",
    log:
        "logs/ingest/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    params:
        source=ingest_args,
        code=code("ingest"),
    shell:
        "python -m twostream ingest {params.source} --workers {threads}"
        " --out {output.manifest} --failures {output.failures} > {log} 2>&1"


rule extract:
    input:
        manifest="results/{dataset}/manifest.csv",
    output:
        "results/{dataset}/chunks/{chunk}.csv",
    log:
        "logs/extract/{dataset}/{chunk}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: max(1, workflow.cores // GPUS) if GPUS else 1
    resources:
        gpu=1 if GPUS else 0,
    params:
        chunk=lambda w: int(w.chunk),
        spec=spec(specs.ExtractSpec),
        code=code("extract"),
    shell:
        "python -m twostream extract --spec {params.spec:q} --manifest {input.manifest} --chunk {params.chunk}"
        " --shards shards/{wildcards.dataset} --threads {threads} --out {output} > {log} 2>&1"


rule index:
    input:
        manifest="results/{dataset}/manifest.csv",
        failures="results/{dataset}/ingest_failures.csv",
        chunks=chunk_indexes,
    output:
        index="results/{dataset}/shards.csv",
        failures="results/{dataset}/failures.csv",
    log:
        "logs/index/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        code=code("index"),
    shell:
        "python -m twostream index --manifest {input.manifest} --ingest-failures {input.failures}"
        " --chunks {input.chunks} --out {output.index} --failures {output.failures} > {log} 2>&1"

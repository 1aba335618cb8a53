# The configuration: its files checked, completed from the schema, checked across keys; the names every rule uses.


SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"

# Snakemake's loader has kept the last of two equal keys and shares aliased values: check the files themselves
# before any step walks the config.
for configfile in workflow.configfiles:
    check_config_file(configfile)
config.update(complete(config))  # defaults from the schema (focalcls/config/schema.yaml) only
check_config(config)
TRACKING = tracking_settings(config)
check_packages(TRACKING["report_to"])
# train.py reads them from its environment, not from the train rule's params: they never change an adapter,
# and a changed param would retrain every finished preset. A cluster job reads this Snakefile again.
os.environ[TRACKING_ENV] = json.dumps(TRACKING)
DEMO_MODEL = "resources/models/demo"
DATA = "results/data"
ENV = "../../envs/focalcls.yaml"
SEEDS = config["train"]["seeds"]
TUNE = config["tune"]
# The presets the report, predict and evaluate.files know: the config's, `tuned`, the search's winner, and
# the adapters trained elsewhere (evaluate.adapters), each imported into its own folder as one run.
PRESETS = preset_names(config)
ADAPTERS = config["evaluate"]["adapters"]

"""Does the template create? Offline, in two steps (two virtualenvs):

  .venv-deploy/bin/python infra/local/cfn_check.py expand > .build/cfn.json   # samtranslator
  .venv/bin/python infra/local/cfn_check.py create .build/cfn.json            # moto (pinned)

`expand` runs SAM's own transform (no AWS call: dummy region, no managed-policy lookups). The
emulator has no Lambda aliases, so the canary settings (AutoPublishAlias, DeploymentPreference)
are left out of this check only. `create` makes the result on moto's CloudFormation, in
process: the stack must complete, and every resource must be created unless its type is one
moto's CloudFormation cannot make, listed in infra/local/cfn-unsupported.txt (outputs reading
those are left out). Every optional part is switched on by its parameter. A resource of
another type that is not created fails the check; so does a listed type that now creates (the
list is kept exact).
"""

import io
import json
import os
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "template.yaml"
UNSUPPORTED = HERE / "cfn-unsupported.txt"


def expand() -> None:
    from samtranslator.translator.transform import transform  # noqa: PLC0415
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415

    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-1")
    tpl = yaml_parse(TEMPLATE.read_text())
    glob = tpl["Globals"]["Function"]
    glob.pop("AutoPublishAlias", None)
    glob.pop("DeploymentPreference", None)
    for r in tpl["Resources"].values():
        if r["Type"] == "AWS::Serverless::Function":
            r["Properties"]["CodeUri"] = "s3://code-bucket/code.zip"
        if r["Type"] == "AWS::Serverless::LayerVersion":
            r["Properties"]["ContentUri"] = "s3://code-bucket/code.zip"

    class NoManagedPolicies:
        def load(self):
            return {}

    out = transform(tpl, {"KeyEnvironment": "test"}, NoManagedPolicies())
    json.dump(out, sys.stdout)


def create(path: str) -> None:
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    tpl = json.loads(Path(path).read_text())
    tpl.pop("Transform", None)
    unsupported = {
        line.split("#")[0].strip()
        for line in UNSUPPORTED.read_text().splitlines()
        if line.split("#")[0].strip()
    }
    # Outputs that read an attribute of a resource moto cannot make would stop the whole stack.
    types = {k: v["Type"] for k, v in tpl["Resources"].items()}
    for name, out in list(tpl.get("Outputs", {}).items()):
        att = out.get("Value", {}).get("Fn::GetAtt") if isinstance(out.get("Value"), dict) else None
        if att and types.get(att[0]) in unsupported:
            del tpl["Outputs"][name]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "")
    region = "ap-northeast-1"
    with mock_aws():
        s3 = boto3.client("s3", region_name=region)
        s3.create_bucket(
            Bucket="code-bucket", CreateBucketConfiguration={"LocationConstraint": region}
        )
        s3.put_object(Bucket="code-bucket", Key="code.zip", Body=code.getvalue())
        cfn = boto3.client("cloudformation", region_name=region)
        cfn.create_stack(
            StackName="smartpit",
            TemplateBody=json.dumps(tpl),
            # Every optional part switched on, so conditional resources are checked too.
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v}
                for k, v in {
                    "KeyEnvironment": "test",
                    "AlarmEmail": "ops@example.jp",
                    "CustomDomainName": "pay.example.jp",
                    "CustomDomainCertificateArn": "arn:aws:acm:ap-northeast-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100",
                }.items()
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack = cfn.describe_stacks(StackName="smartpit")["Stacks"][0]
        made = {
            r["LogicalResourceId"]: r["ResourceStatus"]
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName="smartpit")
            for r in page["StackResourceSummaries"]
        }
    problems = []
    if stack["StackStatus"] != "CREATE_COMPLETE":
        problems.append(f"stack {stack['StackStatus']}: {stack.get('StackStatusReason')}")
    types_not_made = set()
    for logical, r in tpl["Resources"].items():
        status = made.get(logical)
        if status == "CREATE_COMPLETE":
            if r["Type"] in unsupported:
                problems.append(f"{r['Type']} now creates ({logical}): remove it from {UNSUPPORTED.name}")
            continue
        types_not_made.add(r["Type"])
        if r["Type"] not in unsupported:
            problems.append(f"{logical} ({r['Type']}) was not created: {status}")
    for t in sorted(unsupported - types_not_made):
        if not any(r["Type"] == t for r in tpl["Resources"].values()):
            problems.append(f"{t} is listed in {UNSUPPORTED.name} but the template has none")
    created = sum(1 for s in made.values() if s == "CREATE_COMPLETE")
    print(f"{created} of {len(tpl['Resources'])} resources created on moto's CloudFormation; "
          f"not created (moto cannot): {', '.join(sorted(types_not_made)) or 'none'}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["expand"]:
        expand()
    elif sys.argv[1:2] == ["create"] and len(sys.argv) == 3:
        create(sys.argv[2])
    else:
        sys.exit(__doc__)

#!/usr/bin/env python3
"""AWS emulator for esm-guard's integration tests: moto's server plus patches and test controls.

Run (after ``scripts/setup``)::

    .venv/bin/python scripts/emulator.py [--host 127.0.0.1] [--port 0] [--no-stdin-watch] [--verbose]

It prints exactly one line ``READY http://HOST:PORT`` on stdout (flushed) once the socket
accepts connections; point the SDKs at it with ``AWS_ENDPOINT_URL=http://HOST:PORT``.  Logs
go to stderr (errors and start/stop notes; every request too with ``--verbose``).  It exits with status 0 when its stdin
reaches EOF (so a test process that dies takes the emulator with it; pass
``--no-stdin-watch`` to run it by hand in the background) and on SIGTERM/SIGINT.

Accounts
    moto 5.2.5 maps every unknown access key id to account 123456789012.  Here an
    AWS_ACCESS_KEY_ID that is a 12-digit number *is* the account id (resources, ARNs,
    OwnerId, the request log and faults all use it), so tests sharing one emulator isolate
    themselves by each using their own 12-digit key.  Any other key keeps moto's behaviour
    (the ``x-moto-account-id`` header, IAM/STS-issued keys, else 123456789012).

    Temporary credentials from sts:AssumeRole (``ASIA...`` key, secret, session token,
    Expiration; see "STS AssumeRole" below) select the role's account: every request signed
    with them is served from that account, and the request log and fault rules see that
    account.  Requests signed with an ``ASIA`` key are refused as AWS refuses them, in the
    service's protocol, before any other check but the fault rules:

    * a key the emulator did not issue, or a session token missing (``X-Amz-Security-Token``
      header or query parameter) or not the one issued with the key: EC2 401 AuthFailure
      ``AWS was not able to validate the provided access credentials``; query services (STS,
      IAM, RDS, SNS, ...) 403 InvalidClientTokenId, awsJson services (SQS, DynamoDB,
      Organizations, ...) 400 and REST-JSON services (Lambda, Kafka, MQ, Scheduler) 403
      UnrecognizedClientException, ``The security token included in the request is
      invalid.``
    * expired credentials (moto's clock; see the sts/expire control): EC2 400 RequestExpired
      ``Request has expired.``; query services 403 ExpiredToken, awsJson 400 and REST-JSON
      403 ExpiredTokenException, ``The security token included in the request is expired``.

STS AssumeRole (moto lets anyone assume any ARN, existing or not; checked here before moto
serves it, after any fault rule; errors in the query protocol's XML)
    * 400 ValidationError, AWS-style (``1 validation error detected: Value 'x' at
      'roleSessionName' failed to satisfy constraint: ...``), when RoleArn (20-2048) or
      RoleSessionName (2-64 of ``[A-Za-z0-9_+=,.@-]``) is missing or malformed, ExternalId is not
      2-1224 of ``[A-Za-z0-9_+=,.@:/-]``, DurationSeconds is not 900-43200; ``ROLEARN is invalid``
      when RoleArn is not an ARN.
    * 403 AccessDenied ``User: CALLER is not authorized to perform: sts:AssumeRole on
      resource: ROLEARN`` when no role of exactly that ARN (path included) exists in the
      ARN's account, or its trust policy does not let the caller in.  CALLER is
      ``arn:aws:iam::ACCOUNT:root`` for a 12-digit key, ``arn:aws:sts::ACCOUNT:assumed-role/
      ROLE/SESSION`` for assumed credentials, an IAM user's ARN for its key.
    * then 400 ValidationError ``The requested DurationSeconds exceeds the 1 hour session
      limit for roles assumed by role chaining.`` (the caller uses assumed credentials and
      asks for more than 3600 s) or ``... exceeds the MaxSessionDuration set for this role.``
      (default 3600).
    The trust policy is evaluated as IAM does for one principal: an explicit Deny wins, else
    an Allow is needed; a statement applies when its Principal (or NotPrincipal), Action (or
    NotAction: ``*``/``?`` wildcards, case-insensitive) and every Condition match.  AWS
    principals: ``*``, an account id or ``arn:aws:iam::ACCOUNT:root`` (any principal of the
    account: identity policies are not evaluated), a role ARN (sessions of that role), a user
    ARN, an assumed-role session ARN; Service/Federated principals never match.  Conditions:
    StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase,
    StringLike, StringNotLike, ArnEquals, ArnLike, ArnNotEquals, ArnNotLike, Bool, Null, with
    ``...IfExists`` and ``ForAnyValue:``/``ForAllValues:`` (a missing key fails a positive
    operator and passes a negated one); any other operator makes its statement not apply.
    Keys: ``sts:ExternalId`` (when sent), ``aws:PrincipalArn`` (the role ARN
    ``arn:aws:iam::ACCOUNT:role/PATH/ROLE`` for assumed credentials, else the caller's ARN),
    ``aws:PrincipalAccount``, ``aws:PrincipalType`` (Account, AssumedRole, User),
    ``aws:PrincipalOrgID`` (when the caller's account is in an organization),
    ``aws:PrincipalIsAWSService`` (false), ``sts:RoleSessionName``.  Not evaluated: the
    caller's identity policies and SCPs, session policies (Policy, PolicyArns), Tags and
    sts:TagSession, SourceIdentity, MFA.  On success moto answers: ``Credentials``
    (AccessKeyId ``ASIA`` + 16, SecretAccessKey of 40, SessionToken, Expiration = now +
    DurationSeconds, default 3600) and ``AssumedRoleUser`` (AssumedRoleId ``AROA...:SESSION``,
    Arn ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``).

Control endpoints (plain HTTP, unsigned, JSON in and out; errors are ``{"error": "..."}``)
    GET    /_esm_guard/health
        ``{"ok": true}``.
    GET    /_esm_guard/requests[?account=ACCOUNT][&service=SVC][&action=ACTION]
        Every AWS request received (in arrival order, faulted and refused ones included,
        control and /moto-api requests excluded) as
        ``{"service": "ec2", "action": "DescribeSubnets", "account": "123456789012",
        "region": "us-east-1", "params": {}}``.  service/region come from the SigV4 credential
        scope; action from the ``Action`` parameter (query protocols), the ``X-Amz-Target``
        suffix (JSON protocols) or the REST route of the botocore model (e.g. Lambda
        ``ListEventSourceMappings``, Kafka ``ListClustersV2``); unmapped ones log as
        ``"METHOD /path"``.
        ``params`` (always present, ``{}`` when nothing applies) holds what an IAM
        authorization check needs, each key only when the request carries it:

        * EC2 (form body and query string): ``GroupId``, ``VpcId``, ``ServiceName``,
          ``VpcEndpointType``, ``PrefixListId`` (strings); ``SubnetIds``,
          ``SecurityGroupIds``, ``VpcEndpointIds`` (lists, from ``SubnetId.N``,
          ``SecurityGroupId.N``, ``VpcEndpointId.N``, in N order); ``TagSpecifications``:
          ``[{"ResourceType": "vpc-endpoint", "Tags": {"key": "value"}}]`` from
          ``TagSpecification.N.ResourceType`` / ``.Tag.M.Key`` / ``.Tag.M.Value`` (in N
          order; ``ResourceType`` left out when absent, a tag without Value is ``""``); for
          AuthorizeSecurityGroupIngress/Egress only, ``ReferencedGroupIds``: the
          ``IpPermissions.N.Groups.M.GroupId`` values in (N, M) order, each once.
        * Lambda (path only, percent-decoded): ``FunctionName`` (e.g.
          GetFunctionConfiguration), ``UUID`` (Get/Update/DeleteEventSourceMapping),
          ``Resource`` (ListTags).
        * Kafka (path only, percent-decoded): ``ClusterArn`` (DescribeClusterV2,
          GetBootstrapBrokers, ...), ``Arn`` (Describe/DeleteVpcConnection).
        * MQ (path only, percent-decoded): ``BrokerId`` (Describe/Update/Delete/RebootBroker,
          ...; the broker ID ``b-UUID``, not the ARN).
        * RDS, which DocumentDB's API is (signing name ``rds``; form body and query string):
          ``DBClusterIdentifier`` (string), ``DBClusterIds`` (list: the values of every
          ``db-cluster-id`` filter, from ``Filters.Filter.N.Name`` /
          ``Filters.Filter.N.Values.Value.M``, in (N, M) order; identifiers or ARNs as sent),
          ``DBSubnetGroupName`` (string).  E.g. DescribeDBClusters with
          ``Filters=[{"Name": "db-cluster-id", "Values": ["events", "arn:...:cluster:audit"]}]``
          logs ``{"DBClusterIds": ["events", "arn:...:cluster:audit"]}``.
        * DynamoDB: ``TableName`` (body).  SNS: ``TopicArn``.
        * Scheduler: ``Name`` (path), ``GroupName`` (body, or the ``groupName`` /
          ``ScheduleGroup`` query parameter); for a request whose body has a ``Target``
          (CreateSchedule, UpdateSchedule), ``RoleArn`` (``Target.RoleArn``, the role
          Scheduler passes: iam:PassRole) and ``TargetArn`` (``Target.Arn``).
        * STS AssumeRole: ``RoleArn`` (when sent) and ``HasExternalId`` (true/false; the
          external id itself is never logged).
        * SQS SendMessage and SendMessageBatch: ``QueueUrl`` (awsJson body or query form).
        * Anything else (Organizations ListAccounts included): ``{}``.
        ``account`` is the account that serves the request: for assumed-role credentials the
        role's account, so ``?account=MEMBER`` lists what was read with them.
    DELETE /_esm_guard/requests[?account=ACCOUNT]
        Clears the log of that account (all accounts without the parameter).
    POST   /_esm_guard/faults
        Body: one rule or a list of rules, appended to the active rules::

            {"action": "DescribeRouteTables",   # required; "*" matches every action
             "service": "ec2",                   # optional (signing name: ec2, lambda, kafka, ...)
             "account": "111122223333",          # optional
             "status": 403,                      # optional; default 400 when "code" is given
             "code": "UnauthorizedOperation",    # optional; default from status
             "message": "You are not authorized",# optional
             "count": 2,                         # optional; matching requests to affect (default: all)
             "delay_ms": 0,                      # optional; sleep first (pass through if no status/code)
             "reset": false}                     # optional; close the connection with no response

        The first active rule that matches a request applies (and uses up one of its count).
        The error body is in the service's own protocol so SDKs parse the code: EC2
        ``<Response><Errors><Error>...``, other query services ``<ErrorResponse>...``,
        awsJson (DynamoDB, EventBridge, ...) ``{"__type": ..., "message": ...}``, REST-JSON
        (Lambda, Kafka) ``{"message": ...}`` with header ``x-amzn-ErrorType: CODE``.
        Returns ``{"faults": [active rules]}``.
    GET    /_esm_guard/faults      the active rules (with their remaining count).
    DELETE /_esm_guard/faults[?account=ACCOUNT]  clears every rule (of that account only).
    POST   /_esm_guard/esm/<uuid>
        Body ``{"State": "Enabled", "LastProcessingResult": "PROBLEM: Connection error. ...",
        "StateTransitionReason": "..."}`` (any subset; null removes an override, and the field
        then shows moto's own value or none) sets the fields GetEventSourceMapping/
        ListEventSourceMappings report for that mapping, of any kind (MSK, self-managed Kafka,
        MQ, DocumentDB, ...).  Kafka, MQ and DocumentDB mappings start with
        ``"LastProcessingResult": "No records processed"`` and ``"StateTransitionReason":
        "USER_INITIATED"``.  An UpdateEventSourceMapping that sets ``Enabled`` drops the
        ``State`` override.  Returns the mapping's configuration.
    POST   /_esm_guard/kafka/cluster
        Body ``{"ClusterArn": "...", "State": "ACTIVE|CREATING|FAILED|..."}`` sets an MSK
        cluster's state (clusters are ACTIVE right after creation here).
    POST   /_esm_guard/kafka/vpc-connection
        Body ``{"Arn": "...", "State": "AVAILABLE|CREATING|FAILED|INACTIVE|DEACTIVATING|
        DELETING|REJECTED|REJECTING"}`` (exactly these two fields; State one of the model's
        VpcConnectionState values) sets what DescribeVpcConnection/ListVpcConnections report
        for an MSK VPC connection (AVAILABLE right after creation here).  Returns
        ``{"Arn": ..., "State": ...}``; 404 for an unknown ARN.
    POST   /_esm_guard/mq/broker
        Body ``{"BrokerId": "b-...", "BrokerState": "CREATION_IN_PROGRESS|CREATION_FAILED|
        DELETION_IN_PROGRESS|RUNNING|REBOOT_IN_PROGRESS|CRITICAL_ACTION_REQUIRED|REPLICA"}``
        (exactly these two fields) sets what DescribeBroker reports (brokers are RUNNING right
        after creation here).  Returns ``{"BrokerId": ..., "BrokerState": ...}``; 404 for an
        unknown ID.
    POST   /_esm_guard/docdb/cluster
        Body ``{"DBClusterArn": "arn:aws:rds:...:cluster:NAME", "Status": "stopped"}`` (exactly
        these two fields; any status string) sets the Status DescribeDBClusters reports, until
        an RDS call changes it (clusters report "creating" in the CreateDBCluster answer, then
        "available").  Returns ``{"DBClusterArn": ..., "Status": ...}``; 404 for an unknown
        ARN.
    POST   /_esm_guard/iam/role
        Body ``{"Account": "…", "RoleName": "…", "AssumeRolePolicyDocument"?: {…} or "…",
        "Path"?: "/", "MaxSessionDuration"?: 3600}``: makes a role in that account's IAM, or
        finds it and then replaces its trust policy / MaxSessionDuration with those given (a
        role's Path cannot change: 400).  Without AssumeRolePolicyDocument a new role trusts
        lambda.amazonaws.com (a Lambda execution role, which CreateFunction requires).
        MaxSessionDuration 3600-43200.  Returns ``{"Arn", "RoleName", "Path",
        "AssumeRolePolicyDocument", "MaxSessionDuration"}``.  (IAM's CreateRole /
        UpdateAssumeRolePolicy through the API, signed with the account's key, work too.)
    POST   /_esm_guard/sts/expire
        Body ``{"AccessKeyId": "ASIA..."}`` makes those assumed-role credentials expired now:
        later requests signed with them answer ExpiredToken (see Accounts).  Returns
        ``{"AccessKeyId", "Expiration"}``; 404 for a key AssumeRole did not issue.
    POST   /_esm_guard/organizations/account
        Body ``{"ManagementAccount": "111111111111", "Id": "222222222222", "Name": "…",
        "Email"?: "…", "Status"?: "ACTIVE|SUSPENDED|PENDING_CLOSURE"}`` makes the emulator
        account Id a member (JoinedMethod INVITED, Email ``aws+ID@example.com`` by default,
        Status/State ACTIVE by default) of the organization whose management account is
        ManagementAccount, creating that organization (FeatureSet ALL) if it has none.  Again
        for a member: updates Name/Email/Status.  Id = ManagementAccount renames the
        management account (moto names it "master", master@example.com).  400 when Id belongs
        to another organization or ManagementAccount is a member of one.  Returns the account
        as ListAccounts shows it plus ``OrganizationId`` and ``ManagementAccount``.  No role is
        made in the member (as for an invited account): make the audit role with iam/role.
    POST   /_esm_guard/ec2/nat-gateway/<nat-gateway-id>
        Body ``{"State": "pending|failed|available|deleting|deleted"}`` sets a NAT gateway's
        state (routes to a NAT gateway that is not pending/available report ``blackhole``).

What is patched in moto 5.2.5 (see ``apply_patches``)
    * Organizations ListAccounts (moto answers any caller, 100 a page): only the management
      account of an organization, or an account registered as a delegated administrator of
      it (RegisterDelegatedAdministrator), may call it; a member answers 400
      AccessDeniedException ``You don't have permissions to access this resource.``, an
      account in no organization 400 AWSOrganizationsNotInUseException ``Your account is not
      a member of an organization.``  MaxResults 1-20 (else InvalidInputException, Reason
      MIN_VALUE_EXCEEDED/MAX_VALUE_EXCEEDED), 20 a page without it; NextToken as returned
      (else InvalidInputException INVALID_NEXT_TOKEN); the accounts in joining order, the
      management account included, each ``{Id, Arn, Email, Name, State,
      JoinedMethod, JoinedTimestamp}``: no ``Status``, which AWS retired on 2026-09-09.
    * Organizations DescribeAccount: the same callers as ListAccounts; AccountId of 12 digits
      (else InvalidInputException), an account of the organization (else 400
      AccountNotFoundException); the account as ListAccounts shows it.  moto as it is: CreateOrganization (FeatureSet ALL by
      default; the management account is listed as "master"), CreateAccount (SUCCEEDED at
      once, where AWS answers IN_PROGRESS and creates the account asynchronously; a random
      12-digit id, usable as an access key like any other; OrganizationAccountAccessRole
      made in it, trusting the management account), DescribeCreateAccountStatus,
      RemoveAccountFromOrganization.
    * SQS SendMessageBatch, checked in this order before moto's checks: more than 10 entries
      TooManyEntriesInBatchRequest (``Maximum number of entries per request are 10. You have
      sent N.``), an entry id not 1-80 of ``[A-Za-z0-9_-]`` InvalidBatchEntryId, a repeated id
      BatchEntryIdsNotDistinct (``Id X repeated.``), the entries' bodies and message
      attributes (name, data type, value) over 1 MiB (1,048,576 bytes, UTF-8; AWS's limit
      since 2025, 256 KiB before) BatchRequestTooLong; all 400, awsJson
      ``__type: com.amazonaws.sqs#CODE`` with ``x-amzn-query-error:
      AWS.SimpleQueueService.CODE;Sender`` (moto's serialization; botocore reports the latter
      as the code).  moto counted the bodies' characters, not bytes nor attributes.  No
      entry is sent when the batch is refused.
    * Lambda: CreateEventSourceMapping for Kafka (MSK cluster ARN or MSK VPC connection
      ARN known to the kafka backend of the same account/region, or
      SelfManagedEventSource); every Kafka field
      round-trips; ListEventSourceMappings paginates (Marker/NextMarker, MaxItems, at most
      100 a page) and filters FunctionName by name/ARN/partial ARN; Update/Delete of an
      unknown UUID answer ResourceNotFoundException; function VpcConfig.VpcId is the
      subnets' VPC (moto says "vpc-123abc").
    * Lambda on Amazon MQ and Amazon DocumentDB (moto: "Unsupported event source type").
      Every refusal is InvalidParameterValueException (400), after the function lookup
      (ResourceNotFoundException) and before anything is stored:

      - MQ, EventSourceArn ``arn:aws:mq:REGION:ACCOUNT:broker:NAME:b-UUID``: a broker of
        exactly that ARN in the function's account and region (Lambda does not support
        cross-account MQ brokers); ``Queues`` exactly one name (1-1000 characters);
        ``SourceAccessConfigurations`` exactly one ``BASIC_AUTH`` whose URI is a Secrets
        Manager secret ARN, plus for a RabbitMQ broker at most one ``VIRTUAL_HOST``, nothing
        else; refused: ``StartingPosition``/``StartingPositionTimestamp``,
        ``ProvisionedPollerConfig``, ``Topics``, ``SelfManagedEventSource``, the Kafka and
        DocumentDB configs.  No StartingPosition is reported.
      - DocumentDB, EventSourceArn ``arn:aws:rds:REGION:ACCOUNT:cluster:NAME``: a cluster of
        that ARN with Engine ``docdb`` in the function's account and region;
        ``DocumentDBEventSourceConfig`` with ``DatabaseName`` (1-63, none of `` /.$"``),
        optional ``CollectionName`` (1-57, ``[_a-zA-Z0-9]`` first, no ``$``, not
        ``system.*``) and ``FullDocument`` (UpdateLookup/Default); exactly one ``BASIC_AUTH``
        secret ARN and nothing else; ``StartingPosition`` LATEST, TRIM_HORIZON or
        AT_TIMESTAMP, the last with a ``StartingPositionTimestamp`` not in the future (and the
        timestamp with no other position); refused: ``ProvisionedPollerConfig``, ``Queues``,
        ``Topics``, ``SelfManagedEventSource``, the Kafka configs.
      - Both: BatchSize 1-10000 (default 100), MaximumBatchingWindowInSeconds 0-300; a second
        mapping of the same function and source on the same queue (MQ) or the same
        database and collection (DocumentDB) answers ResourceConflictException (409).
        UpdateEventSourceMapping applies the same rules to what it carries (no
        ProvisionedPollerConfig, no Kafka configs, SourceAccessConfigurations and
        DocumentDBEventSourceConfig checked as at creation).  Get/List report State,
        EventSourceArn, FunctionArn, Queues or DocumentDBEventSourceConfig (and
        StartingPosition[Timestamp]), SourceAccessConfigurations, BatchSize,
        LastProcessingResult, StateTransitionReason, EventSourceMappingArn.
      Not checked: that the secret exists, the broker's/cluster's state, DocumentDB's engine
      version (Lambda supports 4.0 and 5.0), the stream-only error handling members
      (ParallelizationFactor, DestinationConfig, ...: kept as sent).
    * Amazon MQ (moto: IDs of 6 hex digits, ARNs ``...:broker:ID``, subnets and security
      groups not checked, fake subnets when none are given, a 500 for Delete/Reboot of an
      unknown ID): broker IDs ``b-UUID``, ARNs ``arn:aws:mq:REGION:ACCOUNT:broker:NAME:b-UUID``.
      CreateBroker answers BadRequestException (400) unless: BrokerName is 1-50 of
      ``[A-Za-z0-9_-]``; EngineType is ACTIVEMQ or RABBITMQ (any case; kept as sent);
      DeploymentMode is SINGLE_INSTANCE, ACTIVE_STANDBY_MULTI_AZ (ActiveMQ only) or
      CLUSTER_MULTI_AZ (RabbitMQ only); HostInstanceType and PubliclyAccessible are given;
      the subnets exist in the caller's account and region, in one VPC and in distinct
      Availability Zones, 1 for SINGLE_INSTANCE, 2 for ACTIVE_STANDBY_MULTI_AZ, 1-3 for
      CLUSTER_MULTI_AZ; the security groups (1-5) exist in that VPC.  Without SubnetIds the
      default VPC's default subnets are used (one per zone, as many as the mode takes);
      without SecurityGroups the VPC's default group.  A name already used in the
      account/region answers ConflictException (409).  DescribeBroker
      (``GET /v1/brokers/{broker-id}``) returns BrokerArn, BrokerId, BrokerName, EngineType,
      DeploymentMode, SubnetIds, SecurityGroups, PubliclyAccessible, BrokerState (RUNNING from
      creation on; see the control endpoint), BrokerInstances (ActiveMQ: one per node,
      ``ssl://b-UUID-N.mq.REGION.amazonaws.com:61617`` and the AMQP/STOMP/MQTT/WSS endpoints;
      RabbitMQ: ``amqps://b-UUID.mq.REGION.amazonaws.com:5671``), ...  UpdateBroker's
      SecurityGroups must exist in the broker's VPC (BadRequestException).
      Describe/Update/Delete/RebootBroker of an unknown ID answer NotFoundException (404);
      DeleteBroker removes the broker at once.
    * Amazon DocumentDB through the RDS API (moto refuses Engine "docdb"): CreateDBCluster
      with Engine docdb (Port 27017, EngineVersion 5.0.0, DBClusterParameterGroup
      default.docdb5.0, StorageType standard by default; endpoints
      ``NAME.cluster-X.REGION.docdb.amazonaws.com``; AvailabilityZones those of the subnet
      group).  DBSubnetGroupName must name an existing group (DBSubnetGroupNotFoundFault); left
      out, it is ``default``, made from the default VPC's default subnets when missing.
      VpcSecurityGroupIds must exist (InvalidParameterValue) in the subnet group's VPC
      (InvalidParameterCombination); left out, the VPC's default group.  CreateDBSubnetGroup
      (every engine): InvalidSubnet for an unknown subnet, InvalidParameterValue for subnets
      of two VPCs, DBSubnetGroupDoesNotCoverEnoughAZs below 2 zones.  moto as it is:
      DescribeDBClusters by DBClusterIdentifier (identifier or ARN) or ``db-cluster-id``
      filter (identifiers or ARNs) returning DBClusterArn, DBClusterIdentifier, Engine, Port,
      DBSubnetGroup (the name), VpcSecurityGroups ``[{VpcSecurityGroupId, Status: active}]``,
      Status; DBClusterNotFoundFault (404) for a missing cluster; DescribeDBSubnetGroups with
      DBSubnetGroupName, VpcId, Subnets ``[{SubnetIdentifier, SubnetAvailabilityZone: {Name},
      SubnetStatus: Active}]``; DeleteDBCluster removes the cluster at once.
    * Kafka: RFC 3339 UTC CreationTime; realistic ARNs ``cluster/NAME/UUID-N``;
      clusters ACTIVE once created; CreateClusterV2 keeps ClientAuthentication,
      EncryptionInfo and the other provisioned settings; ListClusters(V2) paginate
      (maxResults/nextToken) and ListClusters returns full cluster infos; unknown ARNs
      answer NotFoundException (moto: HTTP 500); GetBootstrapBrokers (moto: missing) returns
      AWS-shaped broker strings on the ports the cluster's auth/encryption imply
      (9092 plaintext, 9094 TLS, 9096 SASL/SCRAM, 9098 IAM).
    * Kafka VPC connections (multi-VPC private connectivity; moto: none), in the JSON of
      botocore's kafka model (lowerCamel names):

      - CreateVpcConnection ``POST /v1/vpc-connection`` body ``{"targetClusterArn",
        "authentication", "vpcId", "clientSubnets": [...], "securityGroups": [...],
        "tags"?: {}}`` answers ``{"vpcConnectionArn", "state": "CREATING", "authentication",
        "vpcId", "clientSubnets", "securityGroups", "creationTime", "tags"}``.  The ARN is
        ``arn:PARTITION:kafka:REGION:ACCOUNT:vpc-connection/OWNER/CLUSTER_NAME/UUID``
        (ACCOUNT the caller's; OWNER and CLUSTER_NAME from targetClusterArn).
        BadRequestException (400) unless: every field but tags is given; targetClusterArn
        is a cluster ARN of this region that exists in its owner's account (any account);
        authentication is SASL_IAM, SASL_SCRAM or TLS; the VPC, subnets and security groups
        exist in the caller's account and region and the subnets and groups are in that
        VPC.  Not checked: the cluster's multi-VPC settings, its cluster policy, the
        subnets' zones.
      - DescribeVpcConnection ``GET /v1/vpc-connection/{arn}`` (ARN percent-encoded)
        answers ``{"vpcConnectionArn", "targetClusterArn", "state", "authentication",
        "vpcId", "subnets", "securityGroups", "creationTime", "tags"}``; the state is
        AVAILABLE from creation on (see the control endpoint).  An ARN not of this
        account/region answers NotFoundException (404).
      - ListVpcConnections ``GET /v1/vpc-connections[?maxResults=1..100&nextToken=...]``
        answers ``{"vpcConnections": [{"vpcConnectionArn", "targetClusterArn", "state",
        "authentication", "vpcId", "creationTime"}], "nextToken"?}``: the caller's
        connections (account/region) in creation order, 100 a page by default.
      - DeleteVpcConnection ``DELETE /v1/vpc-connection/{arn}`` answers
        ``{"vpcConnectionArn", "state": "DELETING"}`` and removes the connection at once
        (Describe/Delete then answer NotFoundException).
      - The tags work with Kafka's ListTagsForResource/TagResource/UntagResource.
    * EC2: MaxResults/NextToken on DescribeSubnets, DescribeRouteTables,
      DescribeInternetGateways, DescribeNatGateways, DescribeVpcEndpoints,
      DescribeSecurityGroups, DescribeNetworkAcls, DescribeVpcs (moto ignores them);
      CreateVpcEndpoint idempotent by ClientToken, Interface endpoints without
      SecurityGroupIds get the VPC's default group; new network ACLs carry the 32767
      deny-all entries; route State is ``blackhole`` when the target is gone (deleted or
      detached internet gateway, deleted/failed NAT gateway, deleted endpoint, ENI or
      peering); CreateNatGateway without ConnectivityType is ``public``.
    * SNS, Publish with MessageStructure=json (PublishBatch entries too: moto honours their
      MessageStructure):

      - the Message must be a JSON object whose "default" is a string, else InvalidParameter
        (``Invalid parameter: Message Structure - JSON message body failed to parse`` /
        ``... - No default entry in JSON message body``), a failed entry for PublishBatch;
        moto checks nothing when the topic has no subscriber and otherwise only that each
        subscriber's protocol key or "default" is there.
      - the message attributes are not sent, as AWS documents ("Message attributes are sent
        only when the message structure is String, not JSON"; moto sends them): an SQS
        subscriber's envelope has no "MessageAttributes", a raw-delivery SQS message no
        message attributes.  (HTTP/HTTPS and Lambda subscribers get none from moto either
        way.)
      - a filter policy of scope MessageAttributes (the default) matches such a message as
        one without attributes, so a policy requiring an attribute does not deliver it.
        AWS does not document filtering of JSON-structured messages explicitly; the
        emulator takes the strict reading (the attributes are not sent, so there is nothing
        to filter on).  Scope MessageBody is moto's: it matches the JSON structure as
        published (the whole object, not the subscriber's entry), not confirmed against AWS.
    * EventBridge: TestEventPattern (moto: not implemented) using moto's rule matcher.
    * EventBridge Scheduler (moto accepts any shape; a missing group is a KeyError, HTTP 500;
      a second CreateSchedule of a name answers ConflictException with HTTP 400).
      CreateSchedule, GetSchedule and DeleteSchedule are checked before moto sees them
      (``scheduler_rejection``), after any fault rule, and answered like AWS: the status,
      ``x-amzn-ErrorType: CODE`` and the body ``{"Message": "..."}``.  In this order:

      - 400 ValidationException, the message AWS-style (``1 validation error detected:
        Value 'x' at 'target.roleArn' failed to satisfy constraint: ...``), when: Name
        (path) or GroupName (body; ``groupName`` query for Get/Delete) is not 1-64 of
        ``[0-9a-zA-Z-_.]``; ScheduleExpression, FlexibleTimeWindow (with Mode) or Target
        (with Arn and RoleArn) is missing; ScheduleExpression is over 256 characters,
        ScheduleExpressionTimezone not 1-50, Description over 512; FlexibleTimeWindow.Mode
        not OFF/FLEXIBLE or MaximumWindowInMinutes not 1-1440; Target.Arn not 1-1600;
        Target.RoleArn not ``arn:aws[a-z-]*:iam::<12 digits>:role/<name>``; Target.Input
        empty; Target.RetryPolicy MaximumEventAgeInSeconds not 60-86400 or
        MaximumRetryAttempts not 0-185; Target.DeadLetterConfig.Arn not an SQS ARN;
        KmsKeyArn not a KMS key/alias ARN; State not ENABLED/DISABLED;
        ActionAfterCompletion not NONE/DELETE; ClientToken (body; ``clientToken`` query for
        Delete) not 1-64 of ``[a-zA-Z0-9-_]``.  Then (one message each): ScheduleExpression
        not ``at(yyyy-mm-ddThh:mm:ss)`` of a real date and time, ``rate(N unit)`` with
        N >= 1 and unit minute(s)/hour(s)/day(s), or ``cron(...)`` of 6 fields;
        MaximumWindowInMinutes given with Mode OFF or missing with FLEXIBLE; Target.Arn
        not starting with ``arn:``; Target.Input over 256 KB (262144 UTF-8 bytes).
      - 404 ResourceNotFoundException ``Schedule group NAME does not exist.`` when the
        group (default ``default``) does not exist in the caller's account and region.
      - 409 ConflictException ``Schedule NAME already exists.`` (CreateSchedule) when the
        group has a schedule of that name.
      Not checked: the cron fields' values, that the timezone exists, StartDate/EndDate,
      the templated-target parameters (EcsParameters, SqsParameters, ...).  GetSchedule
      answers moto's stored schedule: Arn, Name, GroupName, ScheduleExpression,
      ScheduleExpressionTimezone (default UTC), FlexibleTimeWindow, Target (as sent, plus
      moto's default RetryPolicy 86400 s / 185 attempts), ActionAfterCompletion (null
      when not sent), State (default ENABLED), CreationDate, LastModificationDate.
"""

from __future__ import annotations

import argparse
import base64
import io
import itertools
import json
import logging
import os
import re
import socket
import struct
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote

from aws_errors import DEFAULT_CODES, error_parts
from server_lifecycle import serve_until_stopped

ACCOUNT_KEY_RE = re.compile(r"^\d{12}$")
CREDENTIAL_RE = re.compile(
    r"Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request"
)
DEFAULT_ACCOUNT = "123456789012"

log = logging.getLogger("esm_guard.emulator")


def rfc3339_utc(dt: datetime | None = None) -> str:
    """2026-11-25T14:50:17.781Z"""
    dt = (dt or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def encode_token(prefix: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{prefix}:{offset}".encode()).decode()


def decode_token(prefix: str, token: str | None) -> int | None:
    """Offset encoded in a pagination token, 0 without one, None when it is not ours."""
    if not token:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == prefix and offset.isdigit():
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    return None


# --------------------------------------------------------------------------- accounts


def account_for(access_key: str | None, header_account: str | None = None) -> str:
    """The account moto (as patched here) serves a request with this access key from: the
    header's, a 12-digit key itself, else the account whose IAM holds the key (moto's lookup:
    an ``ASIA`` key AssumeRole issued belongs to the role's account), else 123456789012."""
    if os.environ.get("MOTO_ACCOUNT_ID"):
        return os.environ["MOTO_ACCOUNT_ID"]
    if header_account:
        return header_account
    if access_key and ACCOUNT_KEY_RE.match(access_key):
        return access_key
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key or "")


def _patch_accounts() -> None:
    from moto.core.responses import BaseResponse

    original = BaseResponse.get_current_account

    def get_current_account(self: Any) -> str:
        if "MOTO_ACCOUNT_ID" not in os.environ and "x-moto-account-id" not in self.headers:
            m = CREDENTIAL_RE.search(self.headers.get("Authorization", "") or "")
            if m and ACCOUNT_KEY_RE.match(m.group("key")):
                return m.group("key")
        return original(self)

    BaseResponse.get_current_account = get_current_account


# --------------------------------------------------------------------------- lambda


def _parse_function_ref(ref: str) -> tuple[str, str | None]:
    """(name, qualifier) of a function name, name:qualifier, ARN or partial ARN."""
    parts = ref.split(":")
    if ref.startswith("arn:") and len(parts) >= 7:
        return parts[6], (parts[7] if len(parts) > 7 else None)
    if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:qualifier]
        return parts[2], (parts[3] if len(parts) > 3 else None)
    if len(parts) == 2:
        return parts[0], parts[1]
    return ref, None


def _patch_lambda() -> None:
    from moto.awslambda import models as lm
    from moto.awslambda import responses as lr
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.core.exceptions import JsonRESTError
    from moto.kafka.models import kafka_backends

    class ResourceNotFound(JsonRESTError):
        code = 404

        def __init__(self, message: str):
            super().__init__("ResourceNotFoundException", message)

    class ResourceConflict(JsonRESTError):
        code = 409

        def __init__(self, message: str):
            super().__init__("ResourceConflictException", message)

    ESM = lm.EventSourceMapping
    sequence = itertools.count(1)
    original_init = ESM.__init__

    def esm_init(self: Any, spec: dict[str, Any]) -> None:
        original_init(self, spec)
        self._esm_guard_seq = next(sequence)
        self._esm_guard_overrides = {}

    ESM.__init__ = esm_init

    original_get_configuration = ESM.get_configuration

    def get_configuration(self: Any) -> dict[str, Any]:
        config = original_get_configuration(self)
        for key, value in getattr(self, "_esm_guard_overrides", {}).items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        return config

    ESM.get_configuration = get_configuration

    class KafkaEventSourceMapping(ESM):  # type: ignore[misc, valid-type]
        """An MSK or self-managed Kafka mapping (moto only knows SQS/DynamoDB/Kinesis)."""

        __module__ = "moto.awslambda.models"  # moto's model registry keys classes by module

        def __init__(self, spec: dict[str, Any]):
            spec = dict(spec)
            spec.setdefault("EventSourceArn", None)
            super().__init__(spec)
            # Lambda uses the mapping's UUID as consumer group unless one is given.
            if self.event_source_arn:
                cfg = dict(self.kafka_config or {})
                cfg.setdefault("ConsumerGroupId", self.uuid)
                self.kafka_config = cfg
            else:
                cfg = dict(self.self_managed_kafka_event_source_config or {})
                cfg.setdefault("ConsumerGroupId", self.uuid)
                self.self_managed_kafka_event_source_config = cfg
            self._esm_guard_overrides = {
                "LastProcessingResult": "No records processed",
                "StateTransitionReason": "USER_INITIATED",
            }

        @property
        def event_source_arn(self) -> Any:
            return self._event_source_arn

        @event_source_arn.setter
        def event_source_arn(self, value: Any) -> None:
            self._event_source_arn = value

        def _get_service_source_from_arn(self, event_source_arn: str | None = None) -> str:
            return "kafka"

        @property
        def batch_size(self) -> int:
            return self._batch_size

        @batch_size.setter
        def batch_size(self, value: Any) -> None:
            if value is None:
                self._batch_size = 100
                return
            value = int(value)
            if not 1 <= value <= 10000:
                raise InvalidParameterValueException(
                    f"BatchSize {value} is out of range: Kafka sources take 1 to 10000"
                )
            self._batch_size = value

        def source_key(self) -> Any:
            if self.event_source_arn:
                return self.event_source_arn
            endpoints = (self.self_managed_event_source or {}).get("Endpoints", {})
            return tuple(sorted(endpoints.get("KAFKA_BOOTSTRAP_SERVERS", [])))

    lm.KafkaEventSourceMapping = KafkaEventSourceMapping  # type: ignore[attr-defined]

    class BrokerEventSourceMapping(ESM):  # type: ignore[misc, valid-type]
        """An Amazon MQ or Amazon DocumentDB mapping (moto only knows SQS/DynamoDB/Kinesis)."""

        __module__ = "moto.awslambda.models"  # moto's model registry keys classes by module

        def __init__(self, spec: dict[str, Any], kind: str):
            self.kind = kind  # "mq" or "docdb"
            super().__init__(spec)
            if kind == "mq":
                # moto defaults StartingPosition to TRIM_HORIZON for every non-SQS source;
                # an MQ mapping has none.
                self.starting_position = None
            self._esm_guard_overrides = {
                "LastProcessingResult": "No records processed",
                "StateTransitionReason": "USER_INITIATED",
            }

        @property
        def event_source_arn(self) -> Any:
            return self._event_source_arn

        @event_source_arn.setter
        def event_source_arn(self, value: Any) -> None:
            self._event_source_arn = value

        def _get_service_source_from_arn(self, event_source_arn: str | None = None) -> str:
            return getattr(self, "kind", "mq")

        @property
        def batch_size(self) -> int:
            return self._batch_size

        @batch_size.setter
        def batch_size(self, value: Any) -> None:
            if value is None:
                self._batch_size = 100
                return
            value = int(value)
            if not 1 <= value <= 10000:
                label = "Amazon MQ" if self.kind == "mq" else "Amazon DocumentDB"
                raise InvalidParameterValueException(
                    f"BatchSize {value} is out of range: {label} sources take 1 to 10000"
                )
            self._batch_size = value

        def get_configuration(self) -> dict[str, Any]:
            config = super().get_configuration()
            if self.starting_position_timestamp is not None and "StartingPositionTimestamp" not in config:
                config["StartingPositionTimestamp"] = self.starting_position_timestamp
            return config

    lm.BrokerEventSourceMapping = BrokerEventSourceMapping  # type: ignore[attr-defined]

    def create_broker_mapping(backend: Any, spec: dict[str, Any], func: Any, kind: str) -> Any:
        """CreateEventSourceMapping on an Amazon MQ broker or an Amazon DocumentDB cluster,
        checked as AWS does (see ``validate_mq_mapping`` / ``validate_docdb_mapping``)."""
        if kind == "mq":
            validate_mq_mapping(spec, backend.account_id, backend.region_name, InvalidParameterValueException)
        else:
            validate_docdb_mapping(spec, backend.account_id, backend.region_name, InvalidParameterValueException)
        spec = dict(spec)
        spec.update(
            {"RegionName": backend.region_name, "AccountId": backend.account_id, "FunctionArn": func.function_arn}
        )
        esm = BrokerEventSourceMapping(spec, kind)
        for other in backend._event_source_mappings.values():
            if (
                not isinstance(other, BrokerEventSourceMapping)
                or other.function_arn != esm.function_arn
                or other.event_source_arn != esm.event_source_arn
            ):
                continue
            if kind == "mq" and other.queues == esm.queues:
                what = f"queues ({', '.join(esm.queues)})"
            elif kind == "docdb" and docdb_target(other.document_db_config) == docdb_target(esm.document_db_config):
                database, collection = docdb_target(esm.document_db_config)
                what = f"database ({database}), collection ({collection or '*'})"
            else:
                continue
            raise ResourceConflict(
                f"An event source mapping with event source ({esm.event_source_arn}), function "
                f"({esm.function_arn}), {what} already exists. "
                f"Please update or delete the existing mapping with UUID {other.uuid}"
            )
        backend._event_source_mappings[esm.uuid] = esm
        return esm

    Backend = lm.LambdaBackend
    original_create = Backend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        arn = spec.get("EventSourceArn")
        self_managed = spec.get("SelfManagedEventSource")
        service = arn.split(":")[2:3] if isinstance(arn, str) else []
        is_msk = bool(arn) and service == ["kafka"]
        is_mq = bool(arn) and service == ["mq"]
        is_docdb = bool(arn) and service == ["rds"]
        if not (is_msk or is_mq or is_docdb) and not self_managed:
            return original_create(self, spec)
        if arn and self_managed:
            raise InvalidParameterValueException(
                "Specify either EventSourceArn or SelfManagedEventSource, not both"
            )
        if not spec.get("FunctionName"):
            raise InvalidParameterValueException("Missing FunctionName")
        func = self._lambdas.get_function_by_name_or_arn_with_qualifier(spec["FunctionName"])
        if is_mq or is_docdb:
            return create_broker_mapping(self, spec, func, "mq" if is_mq else "docdb")
        if is_msk:
            kafka = kafka_backends[self.account_id][self.region_name]
            resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
            if resource.startswith("vpc-connection/"):
                # Multi-VPC private connectivity: a VPC connection of this account to a cluster.
                if arn not in kafka.vpc_connections:
                    raise InvalidParameterValueException(
                        f"Amazon MSK VPC connection {arn} does not exist in account {self.account_id}, "
                        f"region {self.region_name}"
                    )
            elif kafka.clusters.get(arn) is None:
                raise InvalidParameterValueException(
                    f"Amazon MSK cluster {arn} does not exist in account {self.account_id}, "
                    f"region {self.region_name}"
                )
        else:
            servers = (self_managed.get("Endpoints") or {}).get("KAFKA_BOOTSTRAP_SERVERS")
            if (
                not isinstance(servers, list)
                or not servers
                or not all(isinstance(s, str) and re.match(r"^[^:\s]+:\d+$", s) for s in servers)
            ):
                raise InvalidParameterValueException(
                    "SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS must list host:port entries"
                )
        topics = spec.get("Topics")
        if not isinstance(topics, list) or len(topics) != 1:
            raise InvalidParameterValueException("Topics must contain exactly one topic for Kafka")
        if spec.get("StartingPosition") not in ("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP"):
            raise InvalidParameterValueException(
                "StartingPosition is required for Kafka: LATEST, TRIM_HORIZON or AT_TIMESTAMP"
            )
        spec = dict(spec)
        spec.update(
            {"RegionName": self.region_name, "AccountId": self.account_id, "FunctionArn": func.function_arn}
        )
        esm = KafkaEventSourceMapping(spec)
        for other in self._event_source_mappings.values():
            if (
                isinstance(other, KafkaEventSourceMapping)
                and other.function_arn == esm.function_arn
                and other.source_key() == esm.source_key()
                and other.topics == esm.topics
            ):
                raise ResourceConflict(
                    f"An event source mapping with event source ({arn or self_managed}), function "
                    f"({esm.function_arn}), topics ({', '.join(esm.topics)}) already exists. "
                    f"Please update or delete the existing mapping with UUID {other.uuid}"
                )
        self._event_source_mappings[esm.uuid] = esm
        return esm

    Backend.create_event_source_mapping = create_event_source_mapping

    original_update = Backend.update_event_source_mapping

    def update_event_source_mapping(self: Any, uuid_: str, spec: dict[str, Any]) -> Any:
        esm = self.get_event_source_mapping(uuid_)
        if esm is None:
            raise ResourceNotFound(f"The resource you requested does not exist. (Service: Lambda, UUID: {uuid_})")
        if isinstance(esm, BrokerEventSourceMapping):
            broker = mq_broker_of(esm.event_source_arn) if esm.kind == "mq" else None
            rabbitmq = broker is not None and str(broker.engine_type).upper() == "RABBITMQ"
            validate_broker_mapping_update(esm.kind, spec, InvalidParameterValueException, rabbitmq)
        result = original_update(self, uuid_, spec)
        if "Enabled" in spec:
            getattr(esm, "_esm_guard_overrides", {}).pop("State", None)
        if "AmazonManagedKafkaEventSourceConfig" in spec:
            esm.kafka_config = {**(esm.kafka_config or {}), **(spec["AmazonManagedKafkaEventSourceConfig"] or {})}
        if "SelfManagedKafkaEventSourceConfig" in spec:
            esm.self_managed_kafka_event_source_config = {
                **(esm.self_managed_kafka_event_source_config or {}),
                **(spec["SelfManagedKafkaEventSourceConfig"] or {}),
            }
        return result

    Backend.update_event_source_mapping = update_event_source_mapping

    def list_event_source_mappings(self: Any, event_source_arn: str | None, function_name: str | None) -> list[Any]:
        esms = sorted(self._event_source_mappings.values(), key=lambda e: getattr(e, "_esm_guard_seq", 0))
        if event_source_arn:
            esms = [e for e in esms if e.event_source_arn == event_source_arn]
        if function_name:
            want_name, want_qualifier = _parse_function_ref(function_name)
            kept = []
            for e in esms:
                name, qualifier = _parse_function_ref(e.function_arn)
                if name == want_name and (want_qualifier is None or qualifier == want_qualifier):
                    kept.append(e)
            esms = kept
        return esms

    Backend.list_event_source_mappings = list_event_source_mappings

    Response = lr.LambdaResponse

    def list_event_source_mappings_response(self: Any) -> Any:
        event_source_arn = self.querystring.get("EventSourceArn", [None])[0]
        function_name = self.querystring.get("FunctionName", [None])[0]
        marker = self.querystring.get("Marker", [None])[0]
        max_items_raw = self.querystring.get("MaxItems", [None])[0]
        try:
            max_items = int(max_items_raw) if max_items_raw else 100
        except ValueError:
            raise InvalidParameterValueException(f"MaxItems {max_items_raw!r} is not a number")
        if not 1 <= max_items <= 10000:
            raise InvalidParameterValueException("MaxItems must be between 1 and 10000")
        page_size = min(max_items, 100)
        esms = self.backend.list_event_source_mappings(event_source_arn, function_name)
        start_seq = decode_token("esm", marker)
        if start_seq is None:
            raise InvalidParameterValueException(f"Invalid Marker: {marker}")
        esms = [e for e in esms if getattr(e, "_esm_guard_seq", 0) >= start_seq]
        page, rest = esms[:page_size], esms[page_size:]
        result: dict[str, Any] = {"EventSourceMappings": [e.get_configuration() for e in page]}
        if rest:
            result["NextMarker"] = encode_token("esm", rest[0]._esm_guard_seq)
        return 200, {}, json.dumps(result)

    Response.list_event_source_mappings = list_event_source_mappings_response

    def delete_event_source_mapping_response(self: Any) -> Any:
        uuid_ = self.path.split("/")[-1]
        esm = self.backend.delete_event_source_mapping(uuid_)
        if esm is None:
            raise ResourceNotFound(f"The resource you requested does not exist. (Service: Lambda, UUID: {uuid_})")
        config = esm.get_configuration()
        config["State"] = "Deleting"
        return 202, {"status": 202}, json.dumps(config)

    Response.delete_event_source_mapping = delete_event_source_mapping_response

    # VpcConfig.VpcId: moto reports a constant "vpc-123abc"; AWS reports the subnets' VPC.
    def vpc_config(self: Any) -> dict[str, Any] | None:
        if not self._vpc_config:
            return None
        config = dict(self._vpc_config)
        vpc_id = None
        try:
            from moto.ec2.models import ec2_backends

            ec2 = ec2_backends[self.account_id][self.region]
            for subnet_id in config.get("SubnetIds") or []:
                try:
                    vpc_id = ec2.get_subnet(subnet_id).vpc_id
                    break
                except Exception:
                    continue
            if vpc_id is None:
                for group_id in config.get("SecurityGroupIds") or []:
                    group = ec2.get_security_group_from_id(group_id)
                    if group is not None:
                        vpc_id = group.vpc_id
                        break
        except Exception:
            log.exception("resolving the VPC of a function's VpcConfig")
        if vpc_id:
            config["VpcId"] = vpc_id
        elif config.get("SecurityGroupIds"):
            config["VpcId"] = "vpc-123abc"
        config.setdefault("Ipv6AllowedForDualStack", False)
        return config

    lm.LambdaFunction.vpc_config = property(vpc_config)  # type: ignore[assignment]


# --------------------------------------------------------------------------- mq and docdb mappings

MQ_BROKER_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[\w-]*):mq:(?P<region>[\w-]+):(?P<account>\d{12}):broker:(?P<name>[^:]+):(?P<id>b-[0-9a-f-]+)$"
)
DOCDB_CLUSTER_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[\w-]*):rds:(?P<region>[\w-]+):(?P<account>\d{12}):cluster:(?P<name>[^:]+)$"
)
SECRET_ARN_RE = re.compile(r"^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:[\w/+=.@-]+$")
# Lambda's DocumentDBEventSourceConfig constraints (botocore's lambda model).
DOCDB_DATABASE_RE = re.compile(r'[^ /\.$"]*')  # 1-63
DOCDB_COLLECTION_RE = re.compile(r"(?!system\.)[_a-zA-Z0-9][^$]*")  # 1-57
DOCDB_FULL_DOCUMENT = ("UpdateLookup", "Default")
STARTING_POSITIONS = ("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")
# Members of CreateEventSourceMapping that belong to other kinds of event source.
KAFKA_ONLY_MEMBERS = ("Topics", "SelfManagedEventSource", "AmazonManagedKafkaEventSourceConfig",
                      "SelfManagedKafkaEventSourceConfig")
PROVISIONED_MODE_SOURCES = "Amazon MSK, self-managed Apache Kafka and Amazon SQS"


def docdb_target(config: Any) -> tuple[str | None, str | None]:
    """(DatabaseName, CollectionName) of a DocumentDBEventSourceConfig."""
    config = config if isinstance(config, dict) else {}
    return config.get("DatabaseName"), config.get("CollectionName")


def _refuse_members(spec: dict[str, Any], members: tuple[str, ...], label: str, error: Any) -> None:
    for member in members:
        if member in spec:
            raise error(f"{member} is not supported for {label} event sources")


def _refuse_provisioned_mode(spec: dict[str, Any], label: str, error: Any) -> None:
    if "ProvisionedPollerConfig" in spec:
        raise error(
            f"ProvisionedPollerConfig is not supported for {label} event sources: provisioned mode is "
            f"available for {PROVISIONED_MODE_SOURCES} only"
        )


def _check_batching(spec: dict[str, Any], error: Any) -> None:
    window = spec.get("MaximumBatchingWindowInSeconds")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 300):
        raise error(f"MaximumBatchingWindowInSeconds {window!r} is out of range: 0 to 300")


def _check_basic_auth(spec: dict[str, Any], label: str, allow_virtual_host: bool, error: Any) -> None:
    """SourceAccessConfigurations: exactly one BASIC_AUTH whose URI is a Secrets Manager secret
    ARN, plus (RabbitMQ only) at most one VIRTUAL_HOST; nothing else."""
    sacs = spec.get("SourceAccessConfigurations")
    if not isinstance(sacs, list) or not sacs:
        raise error(
            f"SourceAccessConfigurations must contain a BASIC_AUTH entry (a Secrets Manager secret ARN) "
            f"for {label} event sources"
        )
    basic = hosts = 0
    for entry in sacs:
        kind = entry.get("Type") if isinstance(entry, dict) else None
        uri = entry.get("URI") if isinstance(entry, dict) else None
        if kind == "BASIC_AUTH":
            basic += 1
            if not isinstance(uri, str) or not SECRET_ARN_RE.match(uri):
                raise error(f"The BASIC_AUTH URI must be a Secrets Manager secret ARN, not {uri!r}")
        elif kind == "VIRTUAL_HOST" and allow_virtual_host:
            hosts += 1
            if not isinstance(uri, str) or not 1 <= len(uri) <= 200:
                raise error(f"The VIRTUAL_HOST URI must be a virtual host name, not {uri!r}")
        else:
            allowed = "BASIC_AUTH and VIRTUAL_HOST" if allow_virtual_host else "BASIC_AUTH"
            raise error(f"SourceAccessConfigurations type {kind!r} is not supported for {label} event sources "
                        f"(supported: {allowed})")
    if basic != 1:
        raise error(f"SourceAccessConfigurations must contain exactly one BASIC_AUTH entry for {label} event "
                    f"sources, not {basic}")
    if hosts > 1:
        raise error("SourceAccessConfigurations may contain at most one VIRTUAL_HOST entry")


def _check_docdb_config(config: Any, error: Any) -> None:
    if not isinstance(config, dict):
        raise error("DocumentDBEventSourceConfig (with DatabaseName) is required for Amazon DocumentDB event sources")
    database, collection = docdb_target(config)
    if not isinstance(database, str) or not 1 <= len(database) <= 63 or not DOCDB_DATABASE_RE.fullmatch(database):
        raise error(f"DocumentDBEventSourceConfig.DatabaseName must be 1 to 63 characters without space, '/', "
                    f"'.', '$' or '\"', not {database!r}")
    if collection is not None and (
        not isinstance(collection, str) or not 1 <= len(collection) <= 57 or not DOCDB_COLLECTION_RE.fullmatch(collection)
    ):
        raise error(f"DocumentDBEventSourceConfig.CollectionName must be 1 to 57 characters, start with a letter, "
                    f"a digit or '_', contain no '$' and not start with 'system.', not {collection!r}")
    full = config.get("FullDocument")
    if full is not None and full not in DOCDB_FULL_DOCUMENT:
        raise error(f"DocumentDBEventSourceConfig.FullDocument must be UpdateLookup or Default, not {full!r}")


def validate_mq_mapping(spec: dict[str, Any], account: str, region: str, error: Any) -> None:
    """What AWS requires of a mapping on an Amazon MQ broker: the broker (named by ARN) exists in
    the function's account and region (Lambda does not support cross-account MQ brokers), one
    queue, a BASIC_AUTH secret (and for RabbitMQ optionally a VIRTUAL_HOST), no starting position,
    no provisioned mode, no Kafka or DocumentDB settings."""
    from moto.mq.models import mq_backends

    label = "Amazon MQ"
    arn = spec["EventSourceArn"]
    m = MQ_BROKER_ARN_RE.match(arn)
    if m is None:
        raise error(f"{arn} is not an Amazon MQ broker ARN (arn:aws:mq:REGION:ACCOUNT:broker:NAME:b-ID)")
    if m.group("account") != account:
        raise error(f"Cross-account Amazon MQ event sources are not supported: the broker {arn} is not in "
                    f"account {account}")
    if m.group("region") != region:
        raise error(f"The Amazon MQ broker {arn} is not in the function's region ({region})")
    broker = mq_backends[account][region].brokers.get(m.group("id"))
    if broker is None or broker.arn != arn:
        raise error(f"Amazon MQ broker {arn} does not exist in account {account}, region {region}")
    _refuse_provisioned_mode(spec, label, error)
    _refuse_members(spec, KAFKA_ONLY_MEMBERS + ("DocumentDBEventSourceConfig", "StartingPosition",
                                                "StartingPositionTimestamp"), label, error)
    queues = spec.get("Queues")
    if (
        not isinstance(queues, list)
        or len(queues) != 1
        or not isinstance(queues[0], str)
        or not 1 <= len(queues[0]) <= 1000
    ):
        raise error("Queues must contain exactly one queue name for Amazon MQ event sources")
    _check_basic_auth(spec, label, str(broker.engine_type).upper() == "RABBITMQ", error)
    _check_batching(spec, error)


def validate_docdb_mapping(spec: dict[str, Any], account: str, region: str, error: Any) -> None:
    """What AWS requires of a mapping on an Amazon DocumentDB cluster: the cluster (named by
    ARN) exists in the function's account and region with engine docdb,
    DocumentDBEventSourceConfig with DatabaseName, a BASIC_AUTH secret, StartingPosition
    (AT_TIMESTAMP with a StartingPositionTimestamp that is not in the future), no provisioned
    mode, no Kafka or MQ settings."""
    from moto.rds.models import rds_backends

    label = "Amazon DocumentDB"
    arn = spec["EventSourceArn"]
    m = DOCDB_CLUSTER_ARN_RE.match(arn)
    if m is None:
        raise error(f"{arn} is not an Amazon DocumentDB cluster ARN (arn:aws:rds:REGION:ACCOUNT:cluster:NAME)")
    if m.group("region") != region:
        raise error(f"The Amazon DocumentDB cluster {arn} is not in the function's region ({region})")
    cluster = None
    if m.group("account") == account:
        cluster = next((c for c in list(rds_backends[account][region].clusters.values()) if c.db_cluster_arn == arn), None)
    if cluster is None:
        raise error(f"Amazon DocumentDB cluster {arn} does not exist in account {account}, region {region}")
    if cluster.engine != "docdb":
        raise error(f"The cluster {arn} is not an Amazon DocumentDB cluster (engine {cluster.engine})")
    _refuse_provisioned_mode(spec, label, error)
    _refuse_members(spec, KAFKA_ONLY_MEMBERS + ("Queues",), label, error)
    _check_docdb_config(spec.get("DocumentDBEventSourceConfig"), error)
    _check_basic_auth(spec, label, False, error)
    position = spec.get("StartingPosition")
    if position not in STARTING_POSITIONS:
        raise error("StartingPosition is required for Amazon DocumentDB event sources: LATEST, TRIM_HORIZON or AT_TIMESTAMP")
    stamp = spec.get("StartingPositionTimestamp")
    if position == "AT_TIMESTAMP":
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
            raise error("StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP")
        if stamp > time.time() + 1:
            raise error("StartingPositionTimestamp cannot be in the future")
    elif stamp is not None:
        raise error("StartingPositionTimestamp is only valid with StartingPosition AT_TIMESTAMP")
    _check_batching(spec, error)


def validate_broker_mapping_update(kind: str, spec: dict[str, Any], error: Any, rabbitmq: bool = False) -> None:
    """UpdateEventSourceMapping of an MQ or DocumentDB mapping: the same rules as at creation
    for what the update carries (``rabbitmq``: the mapping's broker is a RabbitMQ broker)."""
    label = "Amazon MQ" if kind == "mq" else "Amazon DocumentDB"
    _refuse_provisioned_mode(spec, label, error)
    _refuse_members(spec, ("AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig"), label, error)
    if kind == "mq":
        _refuse_members(spec, ("DocumentDBEventSourceConfig",), label, error)
    elif "DocumentDBEventSourceConfig" in spec:
        _check_docdb_config(spec["DocumentDBEventSourceConfig"], error)
    if "SourceAccessConfigurations" in spec:
        _check_basic_auth(spec, label, kind == "mq" and rabbitmq, error)
    _check_batching(spec, error)


def mq_broker_of(arn: str) -> Any:
    """The broker an MQ mapping's EventSourceArn names, or None."""
    from moto.mq.models import mq_backends

    m = MQ_BROKER_ARN_RE.match(arn or "")
    if m is None:
        return None
    try:
        return mq_backends[m.group("account")][m.group("region")].brokers.get(m.group("id"))
    except Exception:
        return None


def find_event_source_mapping(uuid_: str) -> Any:
    from moto.awslambda.models import lambda_backends

    for _, regions in list(lambda_backends.items()):
        for _, backend in list(regions.items()):
            esm = backend._event_source_mappings.get(uuid_)
            if esm is not None:
                return esm
    return None


# --------------------------------------------------------------------------- kafka


def _patch_kafka() -> None:
    from moto.kafka import models as km
    from moto.kafka import responses as kr
    from moto.kafka.exceptions import KafkaException
    from moto.utilities.utils import get_partition

    class NotFound(KafkaException):
        code = 404

        def __init__(self, message: str):
            super().__init__("NotFoundException", message)

    class BadRequest(KafkaException):
        code = 400

        def __init__(self, message: str):
            super().__init__("BadRequestException", message)

    Cluster = km.FakeKafkaCluster
    original_init = Cluster.__init__

    def cluster_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.creation_time = rfc3339_utc()

    Cluster.__init__ = cluster_init

    def generate_arn(self: Any) -> str:
        # AWS: arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID-N (serverless: UUID-sN)
        suffix = "s1" if self.cluster_type == "SERVERLESS" else "1"
        partition = get_partition(self.region_name)
        return (
            f"arn:{partition}:kafka:{self.region_name}:{self.account_id}:"
            f"cluster/{self.cluster_name}/{self.cluster_id}-{suffix}"
        )

    Cluster._generate_arn = generate_arn

    Backend = km.KafkaBackend
    original_create_v2 = Backend.create_cluster_v2

    def create_cluster_v2(self: Any, cluster_name: str, tags: Any, provisioned: Any, serverless: Any) -> Any:
        if not provisioned and not serverless:
            raise BadRequest("Exactly one of provisioned or serverless is required")
        result = original_create_v2(self, cluster_name, tags, provisioned, serverless)
        cluster = self.clusters[result[0]]
        if provisioned:
            cluster.client_authentication = provisioned.get("clientAuthentication")
            cluster.encryption_info = provisioned.get("encryptionInfo")
            cluster.configuration_info = provisioned.get("configurationInfo")
            cluster.open_monitoring = provisioned.get("openMonitoring")
            cluster.logging_info = provisioned.get("loggingInfo")
            if provisioned.get("enhancedMonitoring"):
                cluster.enhanced_monitoring = provisioned["enhancedMonitoring"]
        cluster.state = "ACTIVE"
        return result

    Backend.create_cluster_v2 = create_cluster_v2

    original_create = Backend.create_cluster

    def create_cluster(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_create(self, *args, **kwargs)
        self.clusters[result[0]].state = "ACTIVE"
        return result

    Backend.create_cluster = create_cluster

    def require(method_name: str) -> None:
        original = getattr(Backend, method_name)

        def wrapper(self: Any, cluster_arn: str, *args: Any, **kwargs: Any) -> Any:
            if cluster_arn not in self.clusters:
                raise NotFound(f"The specified cluster was not found: {cluster_arn}")
            return original(self, cluster_arn, *args, **kwargs)

        setattr(Backend, method_name, wrapper)

    for name in ("describe_cluster", "describe_cluster_v2", "delete_cluster"):
        require(name)

    def list_clusters(self: Any, cluster_name_filter: str | None) -> list[dict[str, Any]]:
        # AWS ListClusters returns the full ClusterInfo of provisioned clusters.
        return [
            self.describe_cluster(arn)
            for arn, cluster in list(self.clusters.items())
            if cluster.cluster_type == "PROVISIONED"
            and (not cluster_name_filter or cluster.cluster_name.startswith(cluster_name_filter))
        ]

    Backend.list_clusters = list_clusters

    Response = kr.KafkaResponse

    def paginated(method_name: str, filters: dict[str, str]) -> None:
        def handler(self: Any) -> str:
            kwargs = {kw: self._get_param(param) for kw, param in filters.items()}
            infos = getattr(self.kafka_backend, method_name)(**kwargs)
            max_results = self._get_param("maxResults")
            token = self._get_param("nextToken")
            start = decode_token("msk", token)
            if start is None:
                raise BadRequest(f"Invalid nextToken: {token}")
            size = int(max_results) if max_results else len(infos) or 1
            result: dict[str, Any] = {"clusterInfoList": infos[start : start + size]}
            if start + size < len(infos):
                result["nextToken"] = encode_token("msk", start + size)
            return json.dumps(result)

        setattr(Response, method_name, handler)

    paginated("list_clusters_v2", {"cluster_name_filter": "clusterNameFilter", "cluster_type_filter": "clusterTypeFilter"})
    paginated("list_clusters", {"cluster_name_filter": "clusterNameFilter"})

    def get_bootstrap_brokers(self: Any) -> str:
        """moto has no GetBootstrapBrokers: synthesise AWS-shaped strings from the cluster's settings.

        Ports as in MSK: 9092 plaintext, 9094 TLS, 9096 SASL/SCRAM, 9098 IAM.
        """
        path = unquote(self.parsed_url.path)
        arn = path.split("/v1/clusters/", 1)[-1].removesuffix("/bootstrap-brokers")
        backend = self.kafka_backend
        if arn not in backend.clusters:
            raise NotFound(f"The specified cluster was not found: {arn}")
        cluster = backend.clusters[arn]
        short = cluster.cluster_id.split("-")[0][:6]
        region = cluster.region_name
        if cluster.cluster_type == "SERVERLESS":
            auth = (cluster.serverless_config or {}).get("clientAuthentication") or {"sasl": {"iam": {"enabled": True}}}
            host = f"boot-{short}.c1.kafka-serverless.{region}.amazonaws.com"
            result = {}
            if ((auth.get("sasl") or {}).get("iam") or {}).get("enabled"):
                result["bootstrapBrokerStringSaslIam"] = f"{host}:9098"
            return json.dumps(result)
        auth = cluster.client_authentication or {}
        in_transit = ((cluster.encryption_info or {}).get("encryptionInTransit") or {}).get("clientBroker", "TLS")
        sasl = auth.get("sasl") or {}
        scram = bool((sasl.get("scram") or {}).get("enabled"))
        iam = bool((sasl.get("iam") or {}).get("enabled"))
        tls_auth = bool((auth.get("tls") or {}).get("enabled"))
        unauthenticated = bool((auth.get("unauthenticated") or {}).get("enabled")) or not (scram or iam or tls_auth)
        brokers = max(int(cluster.number_of_broker_nodes or 1), 1)

        def hosts(port: int) -> str:
            return ",".join(
                f"b-{i}.{cluster.cluster_name.lower()}.{short}.c2.kafka.{region}.amazonaws.com:{port}"
                for i in range(1, min(brokers, 3) + 1)
            )

        result = {}
        if unauthenticated and in_transit in ("PLAINTEXT", "TLS_PLAINTEXT"):
            result["bootstrapBrokerString"] = hosts(9092)
        if (unauthenticated or tls_auth) and in_transit in ("TLS", "TLS_PLAINTEXT"):
            result["bootstrapBrokerStringTls"] = hosts(9094)
        if scram and in_transit in ("TLS", "TLS_PLAINTEXT"):
            result["bootstrapBrokerStringSaslScram"] = hosts(9096)
        if iam and in_transit in ("TLS", "TLS_PLAINTEXT"):
            result["bootstrapBrokerStringSaslIam"] = hosts(9098)
        return json.dumps(result)

    Response.get_bootstrap_brokers = get_bootstrap_brokers

    _patch_kafka_vpc_connections(NotFound, BadRequest)


VPC_CONNECTION_STATES = ("CREATING", "AVAILABLE", "INACTIVE", "DEACTIVATING", "DELETING", "FAILED", "REJECTED", "REJECTING")
VPC_CONNECTION_AUTHENTICATIONS = ("SASL_IAM", "SASL_SCRAM", "TLS")
CLUSTER_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[\w-]*):kafka:(?P<region>[\w-]+):(?P<account>\d{12}):cluster/(?P<name>[^/]+)/(?P<uuid>[^/]+)$"
)


class VpcConnection:
    """An Amazon MSK VPC connection (multi-VPC private connectivity), on the client's side."""

    def __init__(self, arn: str, target_cluster_arn: str, authentication: str, vpc_id: str,
                 subnets: list[str], security_groups: list[str]):
        self.arn = arn
        self.target_cluster_arn = target_cluster_arn
        self.authentication = authentication
        self.vpc_id = vpc_id
        self.subnets = subnets
        self.security_groups = security_groups
        self.state = "AVAILABLE"
        self.creation_time = rfc3339_utc()

    def summary(self) -> dict[str, Any]:
        """The ListVpcConnections item (VpcConnection)."""
        return {
            "vpcConnectionArn": self.arn,
            "targetClusterArn": self.target_cluster_arn,
            "state": self.state,
            "authentication": self.authentication,
            "vpcId": self.vpc_id,
            "creationTime": self.creation_time,
        }


def _patch_kafka_vpc_connections(NotFound: Any, BadRequest: Any) -> None:
    """CreateVpcConnection, DescribeVpcConnection, ListVpcConnections, DeleteVpcConnection
    (moto 5.2.5 has none of them): routes, backend state and handlers."""
    import uuid

    from moto.kafka import models as km
    from moto.kafka import responses as kr
    from moto.kafka import urls as ku

    ku.url_paths.update({
        "{0}/v1/vpc-connection$": kr.KafkaResponse.dispatch,
        "{0}/v1/vpc-connection/(?P<arn>.+)$": kr.KafkaResponse.dispatch,
        "{0}/v1/vpc-connections$": kr.KafkaResponse.dispatch,
    })

    Backend = km.KafkaBackend

    def vpc_connections(self: Any) -> dict[str, VpcConnection]:
        # Kept in the backend's __dict__, so /moto-api/reset (which empties it) drops them too.
        return self.__dict__.setdefault("_esm_guard_vpc_connections", {})

    Backend.vpc_connections = property(vpc_connections)

    def string_list(body: dict[str, Any], key: str) -> list[str]:
        value = body.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise BadRequest(f"{key} must be a non-empty list of strings")
        return list(value)

    def create_vpc_connection(self: Any, body: dict[str, Any]) -> VpcConnection:
        for key in ("targetClusterArn", "authentication", "vpcId"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise BadRequest(f"{key} is required")
        target = body["targetClusterArn"]
        m = CLUSTER_ARN_RE.match(target)
        if m is None:
            raise BadRequest(f"targetClusterArn is not an MSK cluster ARN: {target}")
        if m.group("region") != self.region_name:
            raise BadRequest(f"The cluster {target} is not in this region ({self.region_name})")
        owner = m.group("account")
        if km.kafka_backends[owner][self.region_name].clusters.get(target) is None:
            raise BadRequest(f"The specified cluster was not found: {target}")
        authentication = body["authentication"]
        if authentication not in VPC_CONNECTION_AUTHENTICATIONS:
            raise BadRequest(f"authentication must be one of {', '.join(VPC_CONNECTION_AUTHENTICATIONS)}, not {authentication}")
        subnets = string_list(body, "clientSubnets")
        groups = string_list(body, "securityGroups")
        tags = body.get("tags") or {}
        if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
            raise BadRequest("tags must map strings to strings")
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[self.account_id][self.region_name]
        vpc_id = body["vpcId"]
        if vpc_id not in ec2.vpcs:
            raise BadRequest(f"The VPC {vpc_id} does not exist in account {self.account_id}, region {self.region_name}")
        for subnet_id in subnets:
            try:
                subnet = ec2.get_subnet(subnet_id)
            except Exception:
                raise BadRequest(f"The subnet {subnet_id} does not exist")
            if subnet.vpc_id != vpc_id:
                raise BadRequest(f"The subnet {subnet_id} is not in the VPC {vpc_id}")
        for group_id in groups:
            group = ec2.get_security_group_from_id(group_id)
            if group is None:
                raise BadRequest(f"The security group {group_id} does not exist")
            if group.vpc_id != vpc_id:
                raise BadRequest(f"The security group {group_id} is not in the VPC {vpc_id}")
        arn = (
            f"arn:{m.group('partition')}:kafka:{self.region_name}:{self.account_id}:"
            f"vpc-connection/{owner}/{m.group('name')}/{uuid.uuid4()}"
        )
        connection = VpcConnection(arn, target, authentication, vpc_id, subnets, groups)
        self.vpc_connections[arn] = connection
        if tags:
            self.tag_resource(arn, tags)
        return connection

    def get_vpc_connection(self: Any, arn: str) -> VpcConnection:
        connection = self.vpc_connections.get(arn)
        if connection is None:
            raise NotFound(f"The specified VPC connection was not found: {arn}")
        return connection

    def delete_vpc_connection(self: Any, arn: str) -> VpcConnection:
        connection = self.get_vpc_connection(arn)
        del self.vpc_connections[arn]
        self.tagger.delete_all_tags_for_resource(arn)
        connection.state = "DELETING"
        return connection

    Backend.create_vpc_connection = create_vpc_connection
    Backend.get_vpc_connection = get_vpc_connection
    Backend.delete_vpc_connection = delete_vpc_connection

    Response = kr.KafkaResponse

    def json_reply(body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def path_arn(self: Any) -> str:
        return unquote(self.parsed_url.path).split("/v1/vpc-connection/", 1)[-1]

    def create_vpc_connection_response(self: Any) -> Any:
        try:
            body = json.loads(self.body or "{}")
        except ValueError:
            raise BadRequest("The request body is not valid JSON")
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object")
        c = self.kafka_backend.create_vpc_connection(body)
        # AWS answers CREATING; Describe then reports the connection AVAILABLE right away here.
        return json_reply({
            "vpcConnectionArn": c.arn,
            "state": "CREATING",
            "authentication": c.authentication,
            "vpcId": c.vpc_id,
            "clientSubnets": c.subnets,
            "securityGroups": c.security_groups,
            "creationTime": c.creation_time,
            "tags": self.kafka_backend.list_tags_for_resource(c.arn),
        })

    def describe_vpc_connection_response(self: Any) -> Any:
        c = self.kafka_backend.get_vpc_connection(path_arn(self))
        return json_reply({
            "vpcConnectionArn": c.arn,
            "targetClusterArn": c.target_cluster_arn,
            "state": c.state,
            "authentication": c.authentication,
            "vpcId": c.vpc_id,
            "subnets": c.subnets,
            "securityGroups": c.security_groups,
            "creationTime": c.creation_time,
            "tags": self.kafka_backend.list_tags_for_resource(c.arn),
        })

    def list_vpc_connections_response(self: Any) -> Any:
        raw_max = self.querystring.get("maxResults", [None])[0]
        token = self.querystring.get("nextToken", [None])[0]
        try:
            max_results = int(raw_max) if raw_max else 100
        except ValueError:
            raise BadRequest(f"maxResults must be a number, not {raw_max}")
        if not 1 <= max_results <= 100:
            raise BadRequest("maxResults must be between 1 and 100")
        start = decode_token("vpcc", token)
        if start is None:
            raise BadRequest(f"Invalid nextToken: {token}")
        connections = list(self.kafka_backend.vpc_connections.values())
        result: dict[str, Any] = {"vpcConnections": [c.summary() for c in connections[start : start + max_results]]}
        if start + max_results < len(connections):
            result["nextToken"] = encode_token("vpcc", start + max_results)
        return json_reply(result)

    def delete_vpc_connection_response(self: Any) -> Any:
        c = self.kafka_backend.delete_vpc_connection(path_arn(self))
        return json_reply({"vpcConnectionArn": c.arn, "state": c.state})

    Response.create_vpc_connection = create_vpc_connection_response
    Response.describe_vpc_connection = describe_vpc_connection_response
    Response.list_vpc_connections = list_vpc_connections_response
    Response.delete_vpc_connection = delete_vpc_connection_response


def find_kafka_vpc_connection(arn: str) -> Any:
    from moto.kafka.models import kafka_backends

    for _, regions in list(kafka_backends.items()):
        for _, backend in list(regions.items()):
            connection = getattr(backend, "vpc_connections", {}).get(arn)
            if connection is not None:
                return connection
    return None


def find_kafka_cluster(arn: str) -> Any:
    from moto.kafka.models import kafka_backends

    for _, regions in list(kafka_backends.items()):
        for _, backend in list(regions.items()):
            cluster = backend.clusters.get(arn)
            if cluster is not None:
                return cluster
    return None


# --------------------------------------------------------------------------- mq

MQ_DEPLOYMENT_MODES = ("SINGLE_INSTANCE", "ACTIVE_STANDBY_MULTI_AZ", "CLUSTER_MULTI_AZ")
MQ_ENGINE_TYPES = ("ACTIVEMQ", "RABBITMQ")
MQ_BROKER_STATES = ("CREATION_IN_PROGRESS", "CREATION_FAILED", "DELETION_IN_PROGRESS", "RUNNING",
                    "REBOOT_IN_PROGRESS", "CRITICAL_ACTION_REQUIRED", "REPLICA")
MQ_BROKER_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
# Subnets a deployment mode takes: (fewest, most); the default VPC's default subnets are used,
# one per Availability Zone, up to the most, when SubnetIds is left out.
MQ_SUBNET_COUNTS = {"SINGLE_INSTANCE": (1, 1), "ACTIVE_STANDBY_MULTI_AZ": (2, 2), "CLUSTER_MULTI_AZ": (1, 3)}


def _patch_mq() -> None:
    """Amazon MQ brokers as AWS has them: IDs ``b-UUID``, ARNs ``...:broker:NAME:b-UUID``, the
    network placement (SubnetIds, SecurityGroups, PubliclyAccessible) checked against EC2 and
    kept, AWS-shaped endpoints, and NotFoundException for unknown broker IDs everywhere."""
    import ipaddress
    import uuid

    from moto.ec2.models import ec2_backends
    from moto.mq import models as mm
    from moto.mq.exceptions import BadRequestException, ConflictException
    from moto.utilities.utils import get_partition

    Broker = mm.Broker
    original_init = Broker.__init__

    def broker_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.id = f"b-{uuid.uuid4()}"
        self.arn = f"arn:{get_partition(self._esm_guard_region)}:mq:{self._esm_guard_region}:{self._esm_guard_account}:broker:{self.name}:{self.id}"
        for user in self._users.values():
            user.broker_id = self.id

    def broker_init_with_scope(self: Any, name: str, account_id: str, region: str, *args: Any, **kwargs: Any) -> None:
        self._esm_guard_account, self._esm_guard_region = account_id, region
        broker_init(self, name, account_id, region, *args, **kwargs)

    Broker.__init__ = broker_init_with_scope

    def instances(broker: Any, subnets: list[Any]) -> list[dict[str, Any]]:
        """BrokerInstances as AWS shows them: ActiveMQ one per broker node (-1, -2) with the
        OpenWire/AMQP/STOMP/MQTT/WSS endpoints, RabbitMQ one with the AMQPS endpoint."""
        region = broker._esm_guard_region
        host = f"{broker.id}.mq.{region}.amazonaws.com"

        def ip(i: int) -> str:
            subnet = subnets[min(i, len(subnets) - 1)] if subnets else None
            try:
                return str(ipaddress.ip_network(subnet.cidr_block, strict=False).network_address + 10 + i)
            except Exception:
                return f"10.0.0.{10 + i}"

        if str(broker.engine_type).upper() == "RABBITMQ":
            return [{"consoleURL": f"https://{host}", "endpoints": [f"amqps://{host}:5671"], "ipAddress": ip(0)}]
        nodes = 2 if broker.deployment_mode == "ACTIVE_STANDBY_MULTI_AZ" else 1
        result = []
        for i in range(nodes):
            node = f"{broker.id}-{i + 1}.mq.{region}.amazonaws.com"
            result.append({
                "consoleURL": f"https://{node}:8162",
                "endpoints": [f"ssl://{node}:61617", f"amqp+ssl://{node}:5671", f"stomp+ssl://{node}:61614",
                              f"mqtt+ssl://{node}:8883", f"wss://{node}:61619"],
                "ipAddress": ip(i),
            })
        return result

    def check_groups(ec2: Any, groups: list[str], vpc_id: str) -> None:
        if not isinstance(groups, list) or not groups or not all(isinstance(g, str) for g in groups):
            raise BadRequestException("SecurityGroups must list 1 to 5 security group IDs.")
        if len(groups) > 5:
            raise BadRequestException("A broker takes at most 5 security groups.")
        for group_id in groups:
            group = ec2.get_security_group_from_id(group_id)
            if group is None:
                raise BadRequestException(f"The security group [{group_id}] does not exist.")
            if group.vpc_id != vpc_id:
                raise BadRequestException(f"The security group [{group_id}] is not in the VPC of the broker's subnets [{vpc_id}].")

    Backend = mm.MQBackend
    original_create = Backend.create_broker

    def create_broker(self: Any, **kwargs: Any) -> Any:
        name = kwargs.get("broker_name")
        if not isinstance(name, str) or not MQ_BROKER_NAME_RE.match(name):
            raise BadRequestException(
                f"Broker name [{name}] is invalid: 1-50 characters, letters, numbers, dashes and underscores only."
            )
        if any(b.name == name for b in self.brokers.values()):
            raise ConflictException(f"Broker name [{name}] already exists.")
        engine = kwargs.get("engine_type")
        if not isinstance(engine, str) or engine.upper() not in MQ_ENGINE_TYPES:
            raise BadRequestException(f"Broker engine type [{engine}] is invalid. Valid values are: [ACTIVEMQ, RABBITMQ]")
        mode = kwargs.get("deployment_mode")
        if mode not in MQ_DEPLOYMENT_MODES:
            raise BadRequestException(
                f"Broker deployment mode [{mode}] is invalid. Valid values are: [{', '.join(MQ_DEPLOYMENT_MODES)}]"
            )
        if mode == "CLUSTER_MULTI_AZ" and engine.upper() != "RABBITMQ":
            raise BadRequestException("Deployment mode CLUSTER_MULTI_AZ is for RabbitMQ brokers only.")
        if mode == "ACTIVE_STANDBY_MULTI_AZ" and engine.upper() != "ACTIVEMQ":
            raise BadRequestException("Deployment mode ACTIVE_STANDBY_MULTI_AZ is for ActiveMQ brokers only.")
        if not kwargs.get("host_instance_type"):
            raise BadRequestException("HostInstanceType is required.")
        if kwargs.get("publicly_accessible") is None:
            raise BadRequestException("PubliclyAccessible is required.")
        ec2 = ec2_backends[self.account_id][self.region_name]
        fewest, most = MQ_SUBNET_COUNTS[mode]
        subnet_ids = kwargs.get("subnet_ids") or []
        if not subnet_ids:
            vpc = ec2.get_default_vpc()
            if vpc is None:
                raise BadRequestException("There is no default VPC: specify SubnetIds.")
            by_zone: dict[str, str] = {}
            for subnet in sorted(ec2.describe_subnets(filters={"vpc-id": [vpc.id]}), key=lambda s: s.availability_zone):
                if getattr(subnet, "default_for_az", False):
                    by_zone.setdefault(subnet.availability_zone, subnet.id)
            subnet_ids = list(by_zone.values())[:most]
        subnets = []
        for subnet_id in subnet_ids:
            try:
                subnets.append(ec2.get_subnet(subnet_id))
            except Exception:
                raise BadRequestException(f"The subnet [{subnet_id}] does not exist.")
        if not fewest <= len(subnets) <= most:
            wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise BadRequestException(f"A {mode} broker takes {wanted} subnets, not {len(subnets)}.")
        vpc_ids = {s.vpc_id for s in subnets}
        if len(vpc_ids) != 1:
            raise BadRequestException(f"The subnets {subnet_ids} must be in the same VPC.")
        zones = [s.availability_zone for s in subnets]
        if len(set(zones)) != len(zones):
            raise BadRequestException("If you specify more than one subnet, the subnets must be in different Availability Zones.")
        vpc_id = vpc_ids.pop()
        groups = kwargs.get("security_groups")
        if not groups:
            default = ec2.get_security_group_from_name("default", vpc_id=vpc_id)
            groups = [default.id] if default is not None else []
        check_groups(ec2, groups, vpc_id)
        kwargs.update(subnet_ids=[s.id for s in subnets], security_groups=list(groups))
        arn, broker_id = original_create(self, **kwargs)
        broker = self.brokers[broker_id]
        broker.instances = instances(broker, subnets)
        return arn, broker_id

    Backend.create_broker = create_broker

    original_update = Backend.update_broker

    def update_broker(self: Any, **kwargs: Any) -> Any:
        broker = self.describe_broker(kwargs.get("broker_id"))
        if kwargs.get("security_groups"):
            ec2 = ec2_backends[self.account_id][self.region_name]
            vpc_id = None
            for subnet_id in broker.subnet_ids or []:
                try:
                    vpc_id = ec2.get_subnet(subnet_id).vpc_id
                    break
                except Exception:
                    continue
            if vpc_id is not None:
                check_groups(ec2, kwargs["security_groups"], vpc_id)
        return original_update(self, **kwargs)

    Backend.update_broker = update_broker

    def require(method_name: str) -> None:
        original = getattr(Backend, method_name)

        def wrapper(self: Any, broker_id: str, *args: Any, **kwargs: Any) -> Any:
            self.describe_broker(broker_id)  # NotFoundException (404) for an unknown ID (moto: a 500)
            return original(self, broker_id, *args, **kwargs)

        setattr(Backend, method_name, wrapper)

    for name in ("delete_broker", "reboot_broker"):
        require(name)


def _state_control(payload: Any, id_key: str, state_key: str, states: tuple[str, ...] | None) -> tuple[str, str]:
    """The body of a control that sets one resource's state: exactly ``{id_key, state_key}``,
    the state one of ``states`` (any string when None: DocumentDB's statuses are many)."""
    if not isinstance(payload, dict) or not payload.get(id_key) or not payload.get(state_key):
        raise ValueError(f"body must be {{\"{id_key}\": ..., \"{state_key}\": ...}}")
    if set(payload) - {id_key, state_key}:
        raise ValueError(f"unknown fields: {sorted(set(payload) - {id_key, state_key})}")
    state = payload[state_key]
    if states is None:
        if not isinstance(state, str):
            raise ValueError(f"{state_key} must be a string (available, creating, deleting, stopped, failed, ...)")
    elif state not in states:
        raise ValueError(f"{state_key} must be one of {', '.join(states)}")
    return str(payload[id_key]), state


def find_mq_broker(broker_id: str) -> Any:
    from moto.mq.models import mq_backends

    for _, regions in list(mq_backends.items()):
        for _, backend in list(regions.items()):
            broker = backend.brokers.get(broker_id)
            if broker is not None:
                return broker
    return None


# --------------------------------------------------------------------------- rds (DocumentDB)

DOCDB_DEFAULT_ENGINE_VERSION = "5.0.0"
DOCDB_DEFAULT_PORT = 27017


def _patch_rds() -> None:
    """Amazon DocumentDB clusters through the RDS API (moto 5.2.5 refuses Engine "docdb"):
    CreateDBCluster with Engine docdb (port 27017, engine version 5.0.0, parameter group
    default.docdb5.0, ``*.docdb.amazonaws.com`` endpoints by default), the DB subnet group
    (``default``: made from the default VPC's default subnets when needed) and the VPC security
    groups (default: the subnet group VPC's default group) checked against EC2.
    CreateDBSubnetGroup checks its subnets as RDS does."""
    from moto.ec2.models import ec2_backends
    from moto.rds import models as rm
    from moto.rds import utils as ru
    from moto.rds.exceptions import DBSubnetGroupNotFoundError, RDSClientError

    original_engines = ru.ClusterEngine.list_cluster_engines.__func__  # type: ignore[attr-defined]

    def list_cluster_engines(cls: Any) -> list[str]:
        return sorted(set(original_engines(cls)) | {"docdb"})

    ru.ClusterEngine.list_cluster_engines = classmethod(list_cluster_engines)  # type: ignore[assignment]

    Cluster = rm.DBCluster
    for attribute, docdb_value in (
        ("default_engine_version", lambda *a: DOCDB_DEFAULT_ENGINE_VERSION),
        ("default_port", lambda *a: DOCDB_DEFAULT_PORT),
        ("default_allocated_storage", lambda *a: 1),
    ):
        original = getattr(Cluster, attribute)

        def patched(*args: Any, _original: Any = original, _docdb: Any = docdb_value, **kwargs: Any) -> Any:
            engine = args[0] if args else kwargs.get("engine")
            return _docdb() if engine == "docdb" else _original(*args, **kwargs)

        setattr(Cluster, attribute, staticmethod(patched))

    original_endpoint = Cluster.endpoint.fget
    original_reader_endpoint = Cluster.reader_endpoint.fget

    def endpoint(self: Any) -> str:
        if self.engine == "docdb":
            return f"{self.db_cluster_identifier}.cluster-{self.url_identifier}.{self.region}.docdb.amazonaws.com"
        return original_endpoint(self)

    def reader_endpoint(self: Any) -> str:
        if self.engine == "docdb":
            return f"{self.db_cluster_identifier}.cluster-ro-{self.url_identifier}.{self.region}.docdb.amazonaws.com"
        return original_reader_endpoint(self)

    # The state control (/_esm_guard/docdb/cluster) sets a status that stays (moto reports
    # "creating" once, then "available"); moto's own status changes clear it.
    original_status = Cluster.status

    def get_status(self: Any) -> str:
        return getattr(self, "_esm_guard_status", None) or original_status.fget(self)

    def set_status(self: Any, value: str) -> None:
        self._esm_guard_status = None
        original_status.fset(self, value)

    Cluster.status = property(get_status, set_status)  # type: ignore[assignment]
    Cluster.endpoint = property(endpoint)  # type: ignore[assignment]
    Cluster.reader_endpoint = property(reader_endpoint)  # type: ignore[assignment]

    def check_subnets(ec2: Any, subnet_ids: list[str]) -> list[Any]:
        subnets = []
        for subnet_id in subnet_ids:
            try:
                subnets.append(ec2.get_subnet(subnet_id))
            except Exception:
                raise RDSClientError("InvalidSubnet", f"Some input subnets in :[{subnet_id}] are invalid.")
        if len({s.vpc_id for s in subnets}) > 1:
            raise RDSClientError("InvalidParameterValue", "The subnets of a DB subnet group must all be in one VPC.")
        zones = sorted({s.availability_zone for s in subnets})
        if len(zones) < 2:
            raise RDSClientError(
                "DBSubnetGroupDoesNotCoverEnoughAZs",
                "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
                f"Current AZ coverage: {', '.join(zones)}. Add subnets to cover at least 2 AZs.",
            )
        return subnets

    Backend = rm.RDSBackend
    original_create_subnet_group = Backend.create_subnet_group

    def create_subnet_group(self: Any, subnet_name: str, description: str, subnets: list[Any], *args: Any, **kwargs: Any) -> Any:
        check_subnets(ec2_backends[self.account_id][self.region_name], [s.id for s in subnets])
        return original_create_subnet_group(self, subnet_name, description, subnets, *args, **kwargs)

    Backend.create_subnet_group = create_subnet_group

    from moto.rds import responses as rr

    original_create_subnet_group_response = rr.RDSResponse.create_db_subnet_group

    def create_db_subnet_group_response(self: Any) -> Any:
        # moto looks the subnets up itself first (an EC2 error, in the wrong protocol, for an unknown one)
        check_subnets(ec2_backends[self.current_account][self.region], list(self.params.get("SubnetIds") or []))
        return original_create_subnet_group_response(self)

    rr.RDSResponse.create_db_subnet_group = create_db_subnet_group_response

    original_create_cluster = Backend.create_db_cluster

    def create_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        if kwargs.get("engine") != "docdb":
            return original_create_cluster(self, kwargs)
        kwargs = dict(kwargs)
        ec2 = ec2_backends[self.account_id][self.region_name]
        group_name = (kwargs.get("db_subnet_group_name") or "default").lower()
        group = next((g for k, g in list(self.subnet_groups.items()) if k.lower() == group_name), None)
        if group is None and group_name == "default":
            vpc = ec2.get_default_vpc()
            defaults = [s for s in ec2.describe_subnets(filters={"vpc-id": [vpc.id]})] if vpc is not None else []
            if len({s.availability_zone for s in defaults}) >= 2:
                group = original_create_subnet_group(self, "default", "default", defaults, [])
        if group is None:
            raise DBSubnetGroupNotFoundError(group_name)
        groups = kwargs.get("vpc_security_group_ids") or []
        if not groups:
            default = ec2.get_security_group_from_name("default", vpc_id=group.vpc_id)
            groups = [default.id] if default is not None else []
        for group_id in groups:
            sg = ec2.get_security_group_from_id(group_id)
            if sg is None:
                raise RDSClientError("InvalidParameterValue", f"Invalid security group , groupId= {group_id}.")
            if sg.vpc_id != group.vpc_id:
                raise RDSClientError(
                    "InvalidParameterCombination",
                    f"The DB cluster and EC2 security group are in different VPCs. The DB cluster is in "
                    f"{group.vpc_id} and the EC2 security group is in {sg.vpc_id}",
                )
        version = kwargs.get("engine_version") or DOCDB_DEFAULT_ENGINE_VERSION
        major_minor = ".".join(version.split(".")[:2])
        zones = sorted({s.availability_zone for s in group._subnets})
        kwargs.update(
            availability_zones=kwargs.get("availability_zones") or zones,
            storage_type=kwargs.get("storage_type") or "standard",
            db_subnet_group_name=group.name,
            vpc_security_group_ids=list(groups),
            engine_version=version,
            db_cluster_parameter_group_name=kwargs.get("db_cluster_parameter_group_name") or f"default.docdb{major_minor}",
        )
        return original_create_cluster(self, kwargs)

    Backend.create_db_cluster = create_db_cluster


def find_rds_cluster(arn: str) -> Any:
    from moto.rds.models import rds_backends

    for _, regions in list(rds_backends.items()):
        for _, backend in list(regions.items()):
            for cluster in list(backend.clusters.values()):
                if cluster.db_cluster_arn == arn:
                    return cluster
    return None


# --------------------------------------------------------------------------- ec2


def _patch_ec2() -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import nat_gateways, network_acls, route_tables, vpcs
    from moto.ec2.responses import internet_gateways as r_igw
    from moto.ec2.responses import nat_gateways as r_nat
    from moto.ec2.responses import network_acls as r_acl
    from moto.ec2.responses import route_tables as r_rt
    from moto.ec2.responses import security_groups as r_sg
    from moto.ec2.responses import subnets as r_subnets
    from moto.ec2.responses import vpcs as r_vpcs

    # -- MaxResults / NextToken (moto returns everything, always)
    def paginate(cls: Any, method_name: str, key: str) -> None:
        original = getattr(cls, method_name)

        def wrapper(self: Any) -> Any:
            result = original(self)
            max_results = self._get_int_param("MaxResults")
            token = self._get_param("NextToken")
            if not max_results and not token:
                return result
            start = decode_token(method_name, token)
            if start is None:
                raise EC2ClientError("InvalidNextToken", f"The token '{token}' is invalid")
            items = list(result.result[key])
            size = max_results or len(items) or 1
            body = dict(result.result)
            body[key] = items[start : start + size]
            if start + size < len(items):
                body["NextToken"] = encode_token(method_name, start + size)
            return ActionResult(body)

        setattr(cls, method_name, wrapper)

    paginate(r_subnets.Subnets, "describe_subnets", "Subnets")
    paginate(r_rt.RouteTables, "describe_route_tables", "RouteTables")
    paginate(r_igw.InternetGateways, "describe_internet_gateways", "InternetGateways")
    paginate(r_nat.NatGateways, "describe_nat_gateways", "NatGateways")
    paginate(r_vpcs.VPCs, "describe_vpc_endpoints", "VpcEndpoints")
    paginate(r_vpcs.VPCs, "describe_vpcs", "Vpcs")
    paginate(r_sg.SecurityGroups, "describe_security_groups", "SecurityGroups")
    paginate(r_acl.NetworkACLs, "describe_network_acls", "NetworkAcls")

    # -- CreateVpcEndpoint: idempotent by ClientToken; Interface endpoints default to the VPC's default SG
    VPCBackend = vpcs.VPCBackend
    original_create_endpoint = VPCBackend.create_vpc_endpoint

    def create_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        import inspect

        bound = inspect.signature(original_create_endpoint).bind(self, *args, **kwargs)
        bound.apply_defaults()
        params = bound.arguments
        token = params.get("client_token")
        if token:
            for endpoint in list(self.vpc_end_points.values()):
                if getattr(endpoint, "client_token", None) == token:
                    if endpoint.vpc_id != params["vpc_id"] or endpoint.service_name != params["service_name"]:
                        raise EC2ClientError(
                            "IdempotentParameterMismatch",
                            "The client token you have provided is associated with a resource that is already "
                            "deleted or has different parameters. Please use a different client token.",
                        )
                    return endpoint
        endpoint_type = params.get("endpoint_type") or ""
        if endpoint_type.lower() == "interface" and not params.get("security_group_ids"):
            default = self.get_security_group_from_name("default", vpc_id=params["vpc_id"])
            if default is not None:
                params["security_group_ids"] = [default.id]
        params.pop("self", None)
        return original_create_endpoint(self, **params)

    VPCBackend.create_vpc_endpoint = create_vpc_endpoint

    # -- new network ACLs carry the implicit deny-all rules (rule number 32767), as in AWS
    AclBackend = network_acls.NetworkAclBackend
    original_create_acl = AclBackend.create_network_acl

    def create_network_acl(self: Any, vpc_id: str, tags: Any = None, default: bool = False) -> Any:
        acl = original_create_acl(self, vpc_id, tags, default)
        if not default:
            for egress in (True, False):
                self.create_network_acl_entry(
                    network_acl_id=acl.id,
                    rule_number=32767,
                    protocol="-1",
                    rule_action="deny",
                    egress=egress,
                    cidr_block="0.0.0.0/0",
                    icmp_code=None,
                    icmp_type=None,
                    port_range_from=None,
                    port_range_to=None,
                    ipv6_cidr_block=None,
                )
        return acl

    AclBackend.create_network_acl = create_network_acl

    # -- CreateNatGateway without ConnectivityType is public (moto leaves it unset)
    NatBackend = nat_gateways.NatGatewayBackend
    original_create_nat = NatBackend.create_nat_gateway

    def create_nat_gateway(self: Any, subnet_id: str, allocation_id: str, tags: Any = None, connectivity_type: Any = "public") -> Any:
        return original_create_nat(self, subnet_id, allocation_id, tags, connectivity_type or "public")

    NatBackend.create_nat_gateway = create_nat_gateway

    # -- route State: blackhole when the target is gone (moto: always "active")
    def route_state(self: Any) -> str:
        override = getattr(self, "_esm_guard_state", None)
        if override:
            return override
        try:
            backend = self.route_table.ec2_backend
            vpc_id = self.route_table.vpc_id
            if self.nat_gateway is not None and (
                self.nat_gateway.state not in ("available", "pending")
                or self.nat_gateway.id not in backend.nat_gateways
            ):
                return "blackhole"
            gateway = self.gateway
            if gateway is not None:
                gateway_id = gateway.id
                if gateway_id.startswith("igw-"):
                    igw = backend.internet_gateways.get(gateway_id)
                    if igw is None or igw.vpc is None or igw.vpc.id != vpc_id:
                        return "blackhole"
                elif gateway_id.startswith("vgw-") and gateway_id not in backend.vpn_gateways:
                    return "blackhole"
            if self.vpc_endpoint_id:
                endpoint = backend.vpc_end_points.get(self.vpc_endpoint_id)
                if endpoint is None or endpoint.state == "deleted":
                    return "blackhole"
            if self.interface is not None and self.interface.id not in backend.enis:
                return "blackhole"
            if self.vpc_pcx is not None and self.vpc_pcx.id not in backend.vpc_pcxs:
                return "blackhole"
            if self.instance is not None:
                state = getattr(getattr(self.instance, "_state", None), "name", "running")
                if state in ("stopped", "terminated", "shutting-down", "stopping"):
                    return "blackhole"
            if self.egress_only_igw is not None and self.egress_only_igw.id not in getattr(
                backend, "egress_only_internet_gateways", {self.egress_only_igw.id: None}
            ):
                return "blackhole"
        except Exception:
            log.exception("computing a route's state")
        return "active"

    route_tables.Route.state = property(route_state)  # type: ignore[assignment]


def find_nat_gateway(nat_id: str) -> Any:
    from moto.ec2.models import ec2_backends

    for _, regions in list(ec2_backends.items()):
        for _, backend in list(regions.items()):
            nat = backend.nat_gateways.get(nat_id)
            if nat is not None:
                return nat
    return None


# --------------------------------------------------------------------------- sns, events


def _patch_sns() -> None:
    """Publish (and each PublishBatch entry, which moto runs through ``SNSBackend.publish``)
    with MessageStructure=json: the Message must be a JSON object with a string "default"
    (moto checks nothing without subscribers, and with them only that the subscriber's
    protocol key or "default" exists), and the message attributes are not sent (AWS: "Message
    attributes are sent only when the message structure is String, not JSON"), so
    subscribers get none and MessageAttributes-scoped filter policies see none."""
    from moto.sns import models as sm
    from moto.sns.exceptions import InvalidParameterValue

    Backend = sm.SNSBackend
    original_publish = Backend.publish
    original_deliver = sm.Subscription.publish

    def deliver(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        # moto filters on, and delivers (SQS envelope "MessageAttributes", raw-delivery SQS
        # message attributes), the attributes of every message: drop them for JSON ones.
        if message_structure == "json":
            message_attributes = None
        return original_deliver(
            self,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )

    sm.Subscription.publish = deliver

    def publish(self: Any, message: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("message_structure") == "json":
            try:
                structured = json.loads(message)
            except (TypeError, ValueError):
                raise InvalidParameterValue("Invalid parameter: Message Structure - JSON message body failed to parse")
            if not isinstance(structured, dict) or not isinstance(structured.get("default"), str):
                raise InvalidParameterValue(
                    "Invalid parameter: Message Structure - No default entry in JSON message body"
                )
        return original_publish(self, message, *args, **kwargs)

    Backend.publish = publish


def _patch_events() -> None:
    from moto.events import responses as er
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventPattern, EventPatternParser

    REQUIRED = ("id", "account", "source", "time", "region", "resources", "detail-type")

    def test_event_pattern(self: Any) -> str:
        raw_pattern = self._get_param("EventPattern")
        raw_event = self._get_param("Event")
        if not raw_pattern:
            raise ValidationException("EventPattern is required")
        pattern = EventPatternParser(raw_pattern).parse()
        try:
            event = json.loads(raw_event or "")
        except ValueError:
            raise ValidationException("Parameter Event is not valid.")
        if not isinstance(event, dict) or any(field not in event for field in REQUIRED):
            raise ValidationException("Parameter Event is not valid.")
        return json.dumps({"Result": bool(EventPattern(raw_pattern, pattern).matches_event(event))})

    er.EventsHandler.test_event_pattern = test_event_pattern


# --------------------------------------------------------------------------- scheduler


def _patch_scheduler() -> None:
    """What moto gets wrong behind ``scheduler_rejection`` (which answers these first; the
    patches cover a group or schedule that appears or goes between that check and moto)."""
    from moto.scheduler import exceptions as se
    from moto.scheduler.models import EventBridgeSchedulerBackend as Backend

    se.ScheduleExists.code = 409  # moto: 400
    original_create = Backend.create_schedule

    def create_schedule(self: Any, *args: Any, **kwargs: Any) -> Any:
        group = kwargs.get("group_name") or "default"
        if group not in self.schedule_groups:  # moto: KeyError, an HTTP 500
            raise se.ScheduleGroupNotFound(group)
        return original_create(self, *args, **kwargs)

    Backend.create_schedule = create_schedule


_PATCHED = False


def apply_patches() -> None:
    global _PATCHED
    if _PATCHED:
        return
    _patch_accounts()
    _patch_kafka()
    _patch_mq()
    _patch_rds()
    _patch_lambda()
    _patch_ec2()
    _patch_sns()
    _patch_events()
    _patch_scheduler()
    _patch_organizations()
    _patch_sqs()
    _PATCHED = True


# --------------------------------------------------------------------------- request description

# Signing names whose botocore service model has a different name.
BOTOCORE_NAMES = {"events": "events", "lambda": "lambda", "kafka": "kafka", "mq": "mq", "execute-api": "apigateway"}


class RestRoute:
    """One REST operation of a botocore model: its route and where its input members travel."""

    def __init__(self, method: str, regex: re.Pattern[str], query_keys: list[str], name: str,
                 labels: list[str], members: dict[str, dict[str, str]]):
        self.method = method
        self.regex = regex
        self.query_keys = query_keys  # literal query keys of the requestUri ("?versions")
        self.name = name
        self.labels = labels  # member name of each path group, in order
        self.members = members  # location ("uri", "querystring", "body") -> wire name -> member name


class RestRouter:
    """Maps METHOD + raw path to an operation name using botocore's service models."""

    def __init__(self) -> None:
        self._routes: dict[str, list[RestRoute]] = {}
        self._lock = threading.Lock()
        self._session: Any = None

    def _build(self, service: str) -> list[RestRoute]:
        import botocore.session

        if self._session is None:
            self._session = botocore.session.get_session()
        try:
            model = self._session.get_service_model(BOTOCORE_NAMES.get(service, service))
        except Exception:
            return []
        routes = []
        for name in model.operation_names:
            operation = model.operation_model(name)
            http = operation.http
            members: dict[str, dict[str, str]] = {"uri": {}, "querystring": {}, "body": {}}
            if operation.input_shape is not None:
                for member, shape in operation.input_shape.members.items():
                    location = shape.serialization.get("location") or "body"
                    if location in members:
                        members[location][shape.serialization.get("name") or member] = member
            uri = http.get("requestUri", "/")
            path, _, query = uri.partition("?")
            pattern = ""
            literal = 0
            labels = []
            for part in re.split(r"(\{[^}]+\})", path.rstrip("/")):
                if part.startswith("{") and part.endswith("}"):
                    pattern += "(.+)" if part.endswith("+}") else "([^/]+)"
                    label = part[1:-1].rstrip("+")
                    labels.append(members["uri"].get(label, label))
                else:
                    pattern += re.escape(part)
                    literal += len(part)
            keys = [q.split("=")[0] for q in query.split("&") if q]
            route = RestRoute(http.get("method", "POST"), re.compile(f"^{pattern}/?$"), keys, name, labels, members)
            routes.append((literal, route))
        routes.sort(key=lambda r: (-r[0], -len(r[1].query_keys)))
        return [route for _, route in routes]

    def match(self, service: str, method: str, raw_path: str, query: dict[str, Any]) -> tuple[RestRoute, dict[str, str]] | None:
        """The route of the request and its path parameters (member name -> percent-decoded value)."""
        with self._lock:
            routes = self._routes.get(service)
            if routes is None:
                routes = self._routes[service] = self._build(service)
        for route in routes:
            if route.method != method or not all(k in query for k in route.query_keys):
                continue
            m = route.regex.match(raw_path)
            if m:
                return route, {label: unquote(value) for label, value in zip(route.labels, m.groups())}
        return None

    def operation(self, service: str, method: str, raw_path: str, query: dict[str, Any]) -> str | None:
        found = self.match(service, method, raw_path, query)
        return found[0].name if found else None


REST_ROUTER = RestRouter()


def _read_body(environ: dict[str, Any]) -> bytes:
    """Reads the request body and puts it back for moto."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


# What the request log keeps of a request's parameters: what an IAM authorization check needs.
EC2_SCALAR_PARAMS = ("GroupId", "VpcId", "ServiceName", "VpcEndpointType", "PrefixListId")
EC2_LIST_PARAMS = {"SubnetId": "SubnetIds", "SecurityGroupId": "SecurityGroupIds", "VpcEndpointId": "VpcEndpointIds"}
EC2_REFERENCING_ACTIONS = ("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress")
QUERY_PARAMS = {"sns": ("TopicArn",)}  # query protocol services other than EC2 and RDS
JSON_PARAMS = {"dynamodb": ("TableName",)}  # awsJson services: top-level body members
# Per action (service, action): query parameters / top-level JSON body members.
ACTION_PARAMS = {("sqs", "SendMessage"): ("QueueUrl",), ("sqs", "SendMessageBatch"): ("QueueUrl",)}
# REST services: member names, and where they may come from.
REST_PARAMS = {
    "lambda": (("FunctionName", "UUID", "Resource"), ("uri",)),
    "kafka": (("ClusterArn", "Arn"), ("uri",)),
    "mq": (("BrokerId",), ("uri",)),
    "scheduler": (("Name", "GroupName", "RoleArn", "TargetArn"), ("uri", "querystring", "body")),
}
# REST services: log keys taken from a structure of the JSON body (key -> member path).
REST_NESTED_PARAMS = {
    "scheduler": {"RoleArn": ("Target", "RoleArn"), "TargetArn": ("Target", "Arn")},
}
_INDEXED = re.compile(r"^(?P<name>[A-Za-z]+)\.(?P<n>\d+)$")
_TAG_SPEC = re.compile(r"^TagSpecification\.(?P<n>\d+)\.(?:(?P<type>ResourceType)|Tag\.(?P<m>\d+)\.(?P<part>Key|Value))$")
_REFERENCED_GROUP = re.compile(r"^IpPermissions\.(?P<n>\d+)\.Groups\.(?P<m>\d+)\.GroupId$")
_RDS_FILTER = re.compile(r"^Filters\.Filter\.(?P<n>\d+)\.(?:(?P<name>Name)|Values\.Value\.(?P<m>\d+))$")


def rds_params(form: dict[str, str]) -> dict[str, Any]:
    """The IAM-relevant parameters of an RDS (and DocumentDB) query request: DBClusterIdentifier,
    the values of the ``db-cluster-id`` filters as DBClusterIds (in filter, then value order),
    DBSubnetGroupName."""
    params: dict[str, Any] = {}
    if "DBClusterIdentifier" in form:
        params["DBClusterIdentifier"] = form["DBClusterIdentifier"]
    names: dict[int, str] = {}
    values: dict[int, list[tuple[int, str]]] = {}
    for key, value in form.items():
        m = _RDS_FILTER.match(key)
        if m is None:
            continue
        n = int(m.group("n"))
        if m.group("name"):
            names[n] = value
        else:
            values.setdefault(n, []).append((int(m.group("m")), value))
    ids = [v for n in sorted(values) if names.get(n) == "db-cluster-id" for _, v in sorted(values[n])]
    if ids:
        params["DBClusterIds"] = ids
    if "DBSubnetGroupName" in form:
        params["DBSubnetGroupName"] = form["DBSubnetGroupName"]
    return params


def ec2_params(action: str, form: dict[str, str]) -> dict[str, Any]:
    """The IAM-relevant parameters of an EC2 query request (flattened ``Name.N`` form)."""
    params: dict[str, Any] = {k: form[k] for k in EC2_SCALAR_PARAMS if k in form}
    lists: dict[str, list[tuple[int, str]]] = {}
    specs: dict[int, dict[str, Any]] = {}
    referenced: list[tuple[int, int, str]] = []
    for key, value in form.items():
        m = _INDEXED.match(key)
        if m and m.group("name") in EC2_LIST_PARAMS:
            lists.setdefault(EC2_LIST_PARAMS[m.group("name")], []).append((int(m.group("n")), value))
            continue
        m = _TAG_SPEC.match(key)
        if m:
            spec = specs.setdefault(int(m.group("n")), {"tags": {}})
            if m.group("type"):
                spec["type"] = value
            else:
                spec["tags"].setdefault(int(m.group("m")), {})[m.group("part")] = value
            continue
        m = _REFERENCED_GROUP.match(key)
        if m and action in EC2_REFERENCING_ACTIONS:
            referenced.append((int(m.group("n")), int(m.group("m")), value))
    for name, items in sorted(lists.items()):
        params[name] = [v for _, v in sorted(items)]
    if specs:
        rendered = []
        for _, spec in sorted(specs.items()):
            entry: dict[str, Any] = {}
            if "type" in spec:
                entry["ResourceType"] = spec["type"]
            entry["Tags"] = {
                tag["Key"]: tag.get("Value", "") for _, tag in sorted(spec["tags"].items()) if "Key" in tag
            }
            rendered.append(entry)
        params["TagSpecifications"] = rendered
    if referenced:
        groups: list[str] = []
        for _, _, group in sorted(referenced):
            if group not in groups:
                groups.append(group)
        params["ReferencedGroupIds"] = groups
    return params


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    body = _read_body(environ)
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def describe_request(environ: dict[str, Any]) -> dict[str, Any] | None:
    """service, action, account, region, params (+ protocol) of a SigV4-signed AWS request, else None."""
    query_string = environ.get("QUERY_STRING", "")
    query = parse_qs(query_string, keep_blank_values=True)
    auth = environ.get("HTTP_AUTHORIZATION", "") or ""
    m = CREDENTIAL_RE.search(auth)
    if m is None and "X-Amz-Credential" in query:
        m = CREDENTIAL_RE.search("Credential=" + query["X-Amz-Credential"][0])
    if m is None:
        return None
    service = m.group("service").lower()
    region = m.group("region")
    account = account_for(m.group("key"), environ.get("HTTP_X_MOTO_ACCOUNT_ID"))
    session_token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
    if session_token is None and "X-Amz-Security-Token" in query:
        session_token = query["X-Amz-Security-Token"][0]
    method = environ.get("REQUEST_METHOD", "GET").upper()
    target = environ.get("HTTP_X_AMZ_TARGET")
    content_type = environ.get("CONTENT_TYPE", "") or ""
    action = None
    protocol = "rest-json"
    params: dict[str, Any] = {}
    form: dict[str, str] = {}
    rest: tuple[RestRoute, dict[str, str]] | None = None
    if target:
        action = target.rsplit(".", 1)[-1]
        protocol = "json"
    else:
        form = {k: v[0] for k, v in query.items()}
        if content_type.startswith("application/x-www-form-urlencoded"):
            body = parse_qs(_read_body(environ).decode("utf-8", "replace"), keep_blank_values=True)
            form.update({k: v[0] for k, v in body.items()})
        action = form.get("Action")
        if action:
            protocol = "ec2" if service == "ec2" else "query"
        else:
            if service in ("s3", "route53", "cloudfront"):
                protocol = "rest-xml"
            raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
            raw_path = raw_uri.split("?", 1)[0] or "/"
            if raw_path.startswith(("http://", "https://")):
                raw_path = "/" + raw_path.split("/", 3)[-1]
            rest = REST_ROUTER.match(service, method, raw_path, query)
            action = rest[0].name if rest else f"{method} {unquote(environ.get('PATH_INFO', raw_path))}"
    try:
        params = request_params(environ, service, protocol, action, form, query, rest)
    except Exception:
        log.exception("reading the parameters of %s %s", service, action)
    return {"service": service, "action": action, "account": account, "region": region, "protocol": protocol,
            "params": params, "path_params": rest[1] if rest else {}, "form": form, "access_key": m.group("key"),
            "header_account": environ.get("HTTP_X_MOTO_ACCOUNT_ID"), "session_token": session_token}


def request_params(
    environ: dict[str, Any],
    service: str,
    protocol: str,
    action: str,
    form: dict[str, str],
    query: dict[str, list[str]],
    rest: tuple[RestRoute, dict[str, str]] | None,
) -> dict[str, Any]:
    """The request log's ``params``: what an IAM authorization check needs (see the docstring)."""
    if protocol == "ec2":
        return ec2_params(action, form)
    if protocol == "query":
        if service == "rds":
            return rds_params(form)
        if service == "sts" and action == "AssumeRole":
            # The role, and whether an external id was sent (never its value).
            params = {"RoleArn": form["RoleArn"]} if "RoleArn" in form else {}
            params["HasExternalId"] = "ExternalId" in form
            return params
        wanted = QUERY_PARAMS.get(service, ()) + ACTION_PARAMS.get((service, action), ())
        return {k: form[k] for k in wanted if k in form}
    if protocol == "json":
        wanted = JSON_PARAMS.get(service, ()) + ACTION_PARAMS.get((service, action), ())
        if not wanted:
            return {}
        body = _json_body(environ)
        return {k: body[k] for k in wanted if isinstance(body.get(k), str)}
    if rest is None or service not in REST_PARAMS:
        return {}
    route, path_params = rest
    wanted, locations = REST_PARAMS[service]
    params: dict[str, Any] = {}
    if "body" in locations and route.members["body"]:
        body = _json_body(environ)
        for wire, member in route.members["body"].items():
            if member in wanted and isinstance(body.get(wire), str):
                params[member] = body[wire]
        for key, (outer, inner) in REST_NESTED_PARAMS.get(service, {}).items():
            if outer in route.members["body"].values() and isinstance(body.get(outer), dict):
                if isinstance(body[outer].get(inner), str):
                    params[key] = body[outer][inner]
    if "querystring" in locations:
        for wire, member in route.members["querystring"].items():
            if member in wanted and wire in query:
                params[member] = query[wire][0]
    if "uri" in locations:
        params.update({k: v for k, v in path_params.items() if k in wanted})
    return {k: params[k] for k in wanted if k in params}


# --------------------------------------------------------------------------- scheduler validation

# EventBridge Scheduler's input constraints (botocore's scheduler model, the API reference).
SCHEDULER_NAME_RE = re.compile(r"^[0-9a-zA-Z\-_.]+$")  # Name and ScheduleGroupName, 1-64
SCHEDULER_CLIENT_TOKEN_RE = re.compile(r"^[a-zA-Z0-9\-_]+$")  # 1-64
SCHEDULER_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")  # 1-1600
SCHEDULER_KMS_KEY_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9\-]+:\d{12}:(key|alias)/[0-9a-zA-Z\-_]*$")  # 1-2048
SCHEDULER_DLQ_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9\-]+:\d{12}:[a-zA-Z0-9\-_]+$")  # 1-1600
SCHEDULER_INPUT_MAX_BYTES = 256 * 1024  # Target.Input: "The maximum size of the Input field is 256 KB"
SCHEDULER_AT_RE = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")
SCHEDULER_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
SCHEDULER_CRON_RE = re.compile(r"^cron\((.*)\)$", re.S)
SCHEDULER_CHECKED = ("CreateSchedule", "GetSchedule", "DeleteSchedule")


class AwsRejection(Exception):
    """An AWS error the emulator answers itself (before moto sees the request)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class SchedulerRejection(AwsRejection):
    """Answered with Scheduler's body shape (``{"Message": ...}``)."""


def _aws_value(value: Any) -> str:
    """A value as AWS's validation messages quote it."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value)


class _Constraints:
    """Collects "Value X at 'path' failed to satisfy constraint: ..." like AWS's ValidationException."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, value: Any, path: str, constraint: str) -> None:
        self.errors.append(f"Value {_aws_value(value)} at '{path}' failed to satisfy constraint: {constraint}")

    def required(self, value: Any, path: str) -> bool:
        if value is None:
            self.fail(None, path, "Member must not be null")
            return False
        return True

    def string(self, value: Any, path: str, low: int, high: int | None = None, pattern: re.Pattern[str] | None = None,
               enum: tuple[str, ...] = ()) -> None:
        """Checks an optional string member (call ``required`` first for a required one)."""
        if value is None:
            return
        if not isinstance(value, str):
            self.fail(value, path, "Member must be a string")
            return
        if enum and value not in enum:
            self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        if len(value) < low or (high is not None and len(value) > high):
            bound = f"greater than or equal to {low}" + (f" and less than or equal to {high}" if high is not None else "")
            self.fail(value, path, f"Member must have length {bound}")
        elif pattern is not None and not pattern.fullmatch(value):
            self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern.pattern}")

    def integer(self, value: Any, path: str, low: int, high: int) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(value, path, "Member must be an integer")
        elif value < low:
            self.fail(value, path, f"Member must have value greater than or equal to {low}")
        elif value > high:
            self.fail(value, path, f"Member must have value less than or equal to {high}")

    def structure(self, value: Any, path: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, dict):
            self.fail(value, path, "Member must be a structure")
            return False
        return True

    def raise_if_any(self, code: str = "ValidationException") -> None:
        if self.errors:
            n = len(self.errors)
            raise SchedulerRejection(
                400, code,
                f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(self.errors),
            )


def schedule_expression_problem(expression: str) -> str | None:
    """Why AWS refuses a ScheduleExpression (at/rate/cron), or None when it is well formed."""
    m = SCHEDULER_AT_RE.fullmatch(expression)
    if m:
        try:
            datetime(*(int(part) for part in m.groups()))
        except ValueError:
            return f"Invalid Schedule Expression {expression}: not a valid date and time."
        return None
    m = SCHEDULER_RATE_RE.fullmatch(expression)
    if m:
        return None if int(m.group(1)) >= 1 else f"Invalid Schedule Expression {expression}: the value must be at least 1."
    m = SCHEDULER_CRON_RE.fullmatch(expression)
    if m:
        fields = m.group(1).split()
        if len(fields) == 6:
            return None
        return f"Invalid Schedule Expression {expression}: a cron expression has 6 fields, not {len(fields)}."
    return (f"Invalid Schedule Expression {expression}: use at(yyyy-mm-ddThh:mm:ss), rate(value unit) "
            "or cron(minutes hours day_of_month month day_of_week year).")


def _validate_create_schedule(name: str, body: dict[str, Any]) -> None:
    c = _Constraints()
    c.string(name, "name", 1, 64, SCHEDULER_NAME_RE)
    c.string(body.get("GroupName"), "groupName", 1, 64, SCHEDULER_NAME_RE)
    expression = body.get("ScheduleExpression")
    if c.required(expression, "scheduleExpression"):
        c.string(expression, "scheduleExpression", 1, 256)
    c.string(body.get("ScheduleExpressionTimezone"), "scheduleExpressionTimezone", 1, 50)
    c.string(body.get("Description"), "description", 0, 512)
    c.string(body.get("KmsKeyArn"), "kmsKeyArn", 1, 2048, SCHEDULER_KMS_KEY_RE)
    c.string(body.get("State"), "state", 0, enum=("ENABLED", "DISABLED"))
    c.string(body.get("ActionAfterCompletion"), "actionAfterCompletion", 0, enum=("NONE", "DELETE"))
    c.string(body.get("ClientToken"), "clientToken", 1, 64, SCHEDULER_CLIENT_TOKEN_RE)
    window = body.get("FlexibleTimeWindow")
    if c.required(window, "flexibleTimeWindow") and c.structure(window, "flexibleTimeWindow"):
        if c.required(window.get("Mode"), "flexibleTimeWindow.mode"):
            c.string(window["Mode"], "flexibleTimeWindow.mode", 0, enum=("OFF", "FLEXIBLE"))
        c.integer(window.get("MaximumWindowInMinutes"), "flexibleTimeWindow.maximumWindowInMinutes", 1, 1440)
    target = body.get("Target")
    if c.required(target, "target") and c.structure(target, "target"):
        if c.required(target.get("Arn"), "target.arn"):
            c.string(target["Arn"], "target.arn", 1, 1600)
        if c.required(target.get("RoleArn"), "target.roleArn"):
            c.string(target["RoleArn"], "target.roleArn", 1, 1600, SCHEDULER_ROLE_ARN_RE)
        c.string(target.get("Input"), "target.input", 1)
        retry = target.get("RetryPolicy")
        if c.structure(retry, "target.retryPolicy"):
            c.integer(retry.get("MaximumEventAgeInSeconds"), "target.retryPolicy.maximumEventAgeInSeconds", 60, 86400)
            c.integer(retry.get("MaximumRetryAttempts"), "target.retryPolicy.maximumRetryAttempts", 0, 185)
        dlq = target.get("DeadLetterConfig")
        if c.structure(dlq, "target.deadLetterConfig"):
            c.string(dlq.get("Arn"), "target.deadLetterConfig.arn", 1, 1600, SCHEDULER_DLQ_ARN_RE)
    c.raise_if_any()
    # What the model's constraints do not say, but the service checks.
    problem = schedule_expression_problem(expression)
    if problem:
        raise SchedulerRejection(400, "ValidationException", problem)
    mode, minutes = window.get("Mode"), window.get("MaximumWindowInMinutes")
    if mode == "OFF" and minutes is not None:
        raise SchedulerRejection(400, "ValidationException",
                                 "MaximumWindowInMinutes must not be provided when FlexibleTimeWindow Mode is OFF.")
    if mode == "FLEXIBLE" and minutes is None:
        raise SchedulerRejection(400, "ValidationException",
                                 "MaximumWindowInMinutes must be provided when FlexibleTimeWindow Mode is FLEXIBLE.")
    if not target["Arn"].startswith("arn:"):
        raise SchedulerRejection(400, "ValidationException", f"Invalid target ARN: {target['Arn']}.")
    if isinstance(target.get("Input"), str) and len(target["Input"].encode("utf-8")) > SCHEDULER_INPUT_MAX_BYTES:
        raise SchedulerRejection(400, "ValidationException",
                                 f"Target Input exceeds the maximum size of {SCHEDULER_INPUT_MAX_BYTES} bytes.")


def scheduler_rejection(request: dict[str, Any], environ: dict[str, Any]) -> SchedulerRejection | None:
    """AWS's answer to a CreateSchedule/GetSchedule/DeleteSchedule that moto would wrongly accept
    (or answer with a 500), or None to let moto serve it."""
    action = request["action"]
    if request["service"] != "scheduler" or action not in SCHEDULER_CHECKED:
        return None
    name = request.get("path_params", {}).get("Name", "")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    try:
        if action == "CreateSchedule":
            body = _json_body(environ)
            _validate_create_schedule(name, body)
            group = body.get("GroupName") or "default"
        else:
            c = _Constraints()
            c.string(name, "name", 1, 64, SCHEDULER_NAME_RE)
            group = query["groupName"][0] if "groupName" in query else None
            c.string(group, "groupName", 1, 64, SCHEDULER_NAME_RE)
            if action == "DeleteSchedule" and "clientToken" in query:
                c.string(query["clientToken"][0], "clientToken", 1, 64, SCHEDULER_CLIENT_TOKEN_RE)
            c.raise_if_any()
            group = group or "default"
        from moto.scheduler.models import scheduler_backends

        try:
            backend = scheduler_backends[request["account"]][request["region"]]
        except Exception:  # a region moto does not know: moto answers
            return None
        schedule_group = backend.schedule_groups.get(group)
        if schedule_group is None:
            raise SchedulerRejection(404, "ResourceNotFoundException", f"Schedule group {group} does not exist.")
        if action == "CreateSchedule" and name in schedule_group.schedules:
            raise SchedulerRejection(409, "ConflictException", f"Schedule {name} already exists.")
    except SchedulerRejection as rejection:
        return rejection
    return None


def scheduler_error_response(request: dict[str, Any], rejection: SchedulerRejection) -> tuple[str, list[tuple[str, str]], bytes]:
    """The REST-JSON error of ``error_response`` with Scheduler's body member ``Message``."""
    reason, headers, _ = error_parts(request, rejection.status, rejection.code, rejection.message)
    if rejection.status == 409:
        reason = "Conflict"
    data = json.dumps({"Message": rejection.message}).encode()
    headers.append(("Content-Length", str(len(data))))
    return f"{rejection.status} {reason}", headers, data


# --------------------------------------------------------------------------- credentials and STS

# STS AssumeRole's input constraints (botocore's sts model); Java's \w is ASCII.
STS_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]*", re.ASCII)  # RoleSessionName, 2-64
STS_EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]*", re.ASCII)  # ExternalId, 2-1224
STS_MIN_DURATION, STS_MAX_DURATION = 900, 43200  # DurationSeconds
STS_DEFAULT_MAX_SESSION = 3600  # a role's MaxSessionDuration when not set
STS_ROLE_CHAINING_MAX = 3600  # a session assumed with assumed credentials lasts at most 1 hour
ROLE_ARN_RE = re.compile(r"^arn:(?P<partition>aws[\w-]*):iam::(?P<account>\d{12}):role/(?P<rest>.+)$")
PRINCIPAL_ARN_RE = re.compile(r"^arn:(?P<partition>aws[\w-]*):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)$")
TEMP_KEY_RE = re.compile(r"^ASIA[A-Z0-9]{16}$")
TOKEN_INVALID = "The security token included in the request is invalid."
TOKEN_EXPIRED = "The security token included in the request is expired"
# What AWS answers a request signed with unknown/forged temporary credentials, and with
# expired ones, in each protocol: (status, code, message).
CREDENTIAL_ERRORS = {
    "invalid": {
        "ec2": (401, "AuthFailure", "AWS was not able to validate the provided access credentials"),
        "query": (403, "InvalidClientTokenId", TOKEN_INVALID),
        "json": (400, "UnrecognizedClientException", TOKEN_INVALID),
        "rest-json": (403, "UnrecognizedClientException", TOKEN_INVALID),
        "rest-xml": (403, "InvalidToken", "The provided token is malformed or otherwise invalid."),
    },
    "expired": {
        "ec2": (400, "RequestExpired", "Request has expired."),
        "query": (403, "ExpiredToken", TOKEN_EXPIRED),
        "json": (400, "ExpiredTokenException", TOKEN_EXPIRED),
        "rest-json": (403, "ExpiredTokenException", TOKEN_EXPIRED),
        "rest-xml": (400, "ExpiredToken", "The provided token has expired."),
    },
}


def issued_temp_key_account(access_key: str) -> str | None:
    """The account whose IAM holds this temporary (ASIA) key, None when the emulator did not issue it."""
    from moto.iam.models import iam_backends

    for account_id, account in list(iam_backends.items()):
        for _, backend in list(account.items()):
            if access_key in backend.access_keys:
                return account_id
    return None


def find_assumed_role(access_key: str) -> Any:
    """moto's AssumedRole (account_id, role_arn, session_name, session_token, expiration, arn)
    of credentials AssumeRole returned, or None."""
    from moto.sts.models import sts_backends

    for _, account in list(sts_backends.items()):
        for _, backend in list(account.items()):
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is not None:
                return role
    return None


class Caller:
    """Who signed a request, as IAM sees it."""

    def __init__(self, account: str, arn: str, principal_arn: str, kind: str, partition: str):
        self.account = account
        self.arn = arn  # how AWS names the caller (error messages, GetCallerIdentity)
        self.principal_arn = principal_arn  # aws:PrincipalArn
        self.kind = kind  # aws:PrincipalType: Account, AssumedRole, User
        self.partition = partition


def caller_of(request: dict[str, Any]) -> Caller:
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    partition = get_partition(request["region"])
    key = request.get("access_key") or ""
    account = request["account"]
    if ACCOUNT_KEY_RE.match(key) or request.get("header_account") or os.environ.get("MOTO_ACCOUNT_ID"):
        root = f"arn:{partition}:iam::{account}:root"
        return Caller(account, root, root, "Account", partition)
    role = find_assumed_role(key)
    if role is not None:
        return Caller(role.account_id, role.arn, role.role_arn, "AssumedRole", partition)
    for _, backends in list(iam_backends.items()):
        for _, backend in list(backends.items()):
            user = backend.get_user_from_access_key_id(key)
            if user is not None:
                return Caller(user.account_id, user.arn, user.arn, "User", partition)
    root = f"arn:{partition}:iam::{account}:root"
    return Caller(account, root, root, "Account", partition)


def credential_rejection(request: dict[str, Any]) -> AwsRejection | None:
    """AWS's answer to a request signed with temporary credentials (an ``ASIA`` key) that the
    emulator did not issue, without their session token or with another one, or expired."""
    key = request.get("access_key") or ""
    if not TEMP_KEY_RE.match(key) or request.get("header_account") or os.environ.get("MOTO_ACCOUNT_ID"):
        return None
    protocol = request["protocol"] if request["protocol"] in CREDENTIAL_ERRORS["invalid"] else "rest-json"
    role = find_assumed_role(key)
    if role is None:
        if issued_temp_key_account(key) is not None:
            return None  # a temporary key of another kind moto issued: moto's business
        return AwsRejection(*CREDENTIAL_ERRORS["invalid"][protocol])
    if request.get("session_token") != role.session_token:
        return AwsRejection(*CREDENTIAL_ERRORS["invalid"][protocol])
    from moto.core.utils import utcnow

    if role.expiration <= utcnow():
        return AwsRejection(*CREDENTIAL_ERRORS["expired"][protocol])
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's ``*`` / ``?`` wildcard matching of a whole value."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.S | (re.I if ignore_case else 0)) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated parts matched on its own."""
    if pattern == "*":
        return True
    p, v = pattern.split(":", 5), value.split(":", 5)
    return len(p) == 6 and len(v) == 6 and all(_glob(a, b) for a, b in zip(p, v))


# Condition operators (lower case): (match(expected, actual), negated).
CONDITION_OPERATORS: dict[str, tuple[Any, bool]] = {
    "stringequals": (lambda e, a: e == a, False),
    "stringnotequals": (lambda e, a: e == a, True),
    "stringequalsignorecase": (lambda e, a: e.lower() == a.lower(), False),
    "stringnotequalsignorecase": (lambda e, a: e.lower() == a.lower(), True),
    "stringlike": (lambda e, a: _glob(e, a), False),
    "stringnotlike": (lambda e, a: _glob(e, a), True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
    "bool": (lambda e, a: e.lower() == a.lower(), False),
}


def _conditions_hold(conditions: Any, context: dict[str, str]) -> bool:
    """A statement's Condition block against the request context (keys in lower case)."""
    if conditions is None:
        return True
    if not isinstance(conditions, dict):
        return False
    for operator, block in conditions.items():
        if not isinstance(block, dict):
            return False
        name = operator
        qualifier = ""
        if ":" in name:
            qualifier, name = name.split(":", 1)
            qualifier = qualifier.lower()
        if_exists = name.endswith("IfExists")
        base = (name[: -len("IfExists")] if if_exists else name).lower()
        if base != "null" and base not in CONDITION_OPERATORS:
            log.warning("trust policy condition operator %s is not evaluated: the statement does not apply", operator)
            return False
        for key, values in block.items():
            expected = [_policy_string(v) for v in _as_list(values)]
            actual = context.get(key.lower())
            if base == "null":
                holds = any((v.lower() == "true") == (actual is None) for v in expected)
            elif actual is None:
                holds = if_exists or qualifier == "forallvalues" or CONDITION_OPERATORS[base][1]
            else:
                match, negated = CONDITION_OPERATORS[base]
                hit = any(match(e, actual) for e in expected)
                holds = not hit if negated else hit
            if not holds:
                return False
    return True


def _principal_matches(value: str, caller: Caller) -> bool:
    """Does one AWS principal of a trust policy (``*``, an account id, ``arn:...:root``, a role,
    user or assumed-role session ARN) name the caller?"""
    if value == "*":
        return True
    if ACCOUNT_KEY_RE.match(value):
        return caller.account == value
    m = PRINCIPAL_ARN_RE.match(value)
    if m is None or m.group("partition") != caller.partition:
        return False
    service, account, resource = m.group("service"), m.group("account"), m.group("resource")
    if service == "iam" and resource == "root":
        return caller.account == account
    if service == "iam" and resource.startswith("role/"):
        return caller.kind == "AssumedRole" and caller.principal_arn == value
    if service == "iam" and resource.startswith("user/"):
        return caller.kind == "User" and caller.arn == value
    if service == "sts" and resource.startswith("assumed-role/"):
        return caller.kind == "AssumedRole" and caller.arn == value
    return False


def _principal_in(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return any(_principal_matches(_policy_string(v), caller) for v in _as_list(principal.get("AWS", [])))


def trust_allows(document: str, caller: Caller, action: str, context: dict[str, str]) -> bool:
    """IAM's evaluation of a role's trust policy for one caller: an explicit Deny wins, else an
    Allow is needed.  Statements with an operator not in CONDITION_OPERATORS (or Null) do not
    apply."""
    try:
        policy = json.loads(document)
    except ValueError:
        try:
            policy = json.loads(unquote(document))
        except ValueError:
            return False
    if not isinstance(policy, dict):
        return False
    allowed = False
    for statement in _as_list(policy.get("Statement", [])):
        if not isinstance(statement, dict):
            continue
        if "Principal" in statement:
            named = _principal_in(statement["Principal"], caller)
        elif "NotPrincipal" in statement:
            named = not _principal_in(statement["NotPrincipal"], caller)
        else:
            named = False
        if "Action" in statement:
            acts = any(_glob(_policy_string(a), action, ignore_case=True) for a in _as_list(statement["Action"]))
        elif "NotAction" in statement:
            acts = not any(_glob(_policy_string(a), action, ignore_case=True) for a in _as_list(statement["NotAction"]))
        else:
            acts = False
        if not (named and acts and _conditions_hold(statement.get("Condition"), context)):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def organization_id_of(account: str) -> str | None:
    """The id of the organization an account belongs to (aws:PrincipalOrgID), if any."""
    from moto.organizations.models import organizations_backends

    management, partition = organizations_backends.master_accounts.get(account, (account, "aws"))
    backend = (organizations_backends.get(management) or {}).get(partition)
    return backend.org.id if backend is not None and backend.org is not None else None


def find_role(arn: str) -> Any:
    """The IAM role of exactly this ARN (path included), or None."""
    from moto.iam.models import iam_backends

    m = ROLE_ARN_RE.match(arn)
    if m is None:
        return None
    backends = iam_backends.get(m.group("account"))
    backend = backends.get(m.group("partition")) if backends is not None else None
    if backend is None:
        return None
    return next((role for role in list(backend.roles.values()) if role.arn == arn), None)


def sts_rejection(request: dict[str, Any]) -> AwsRejection | None:
    """AWS's answer to an sts:AssumeRole moto would wrongly accept (moto lets anyone assume any
    ARN, existing or not), or None to let moto serve it."""
    if request["service"] != "sts" or request["action"] != "AssumeRole":
        return None
    form = request.get("form") or {}
    role_arn = form.get("RoleArn")
    session_name = form.get("RoleSessionName")
    external_id = form.get("ExternalId")
    raw_duration = form.get("DurationSeconds")
    try:
        c = _Constraints()
        if c.required(role_arn, "roleArn"):
            c.string(role_arn, "roleArn", 20, 2048)
        if c.required(session_name, "roleSessionName"):
            c.string(session_name, "roleSessionName", 2, 64, STS_SESSION_NAME_RE)
        c.string(external_id, "externalId", 2, 1224, STS_EXTERNAL_ID_RE)
        duration = None
        if raw_duration is not None:
            try:
                duration = int(raw_duration)
            except ValueError:
                c.fail(raw_duration, "durationSeconds", "Member must be an integer")
            else:
                c.integer(duration, "durationSeconds", STS_MIN_DURATION, STS_MAX_DURATION)
        c.raise_if_any("ValidationError")
        if len(role_arn.split(":", 5)) < 6 or not role_arn.startswith("arn:"):
            raise AwsRejection(400, "ValidationError", f"{role_arn} is invalid")
        caller = caller_of(request)
        denied = AwsRejection(
            403, "AccessDenied",
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        )
        role = find_role(role_arn)
        if role is None:
            raise denied
        context = {
            "aws:principalarn": caller.principal_arn,
            "aws:principalaccount": caller.account,
            "aws:principaltype": caller.kind,
            "aws:principalisawsservice": "false",
            "sts:rolesessionname": session_name,
        }
        if external_id is not None:
            context["sts:externalid"] = external_id
        org_id = organization_id_of(caller.account)
        if org_id:
            context["aws:principalorgid"] = org_id
        if not trust_allows(role.assume_role_policy_document or "", caller, "sts:AssumeRole", context):
            raise denied
        if duration is not None and caller.kind == "AssumedRole" and duration > STS_ROLE_CHAINING_MAX:
            raise AwsRejection(400, "ValidationError",
                               "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
        if duration is not None and duration > int(role.max_session_duration or STS_DEFAULT_MAX_SESSION):
            raise AwsRejection(400, "ValidationError",
                               "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    except AwsRejection as rejection:
        return rejection
    return None


def expire_session(access_key: str) -> Any:
    """Makes assumed-role credentials expire now (the ExpiredToken control); None when unknown."""
    from datetime import timedelta

    from moto.core.utils import utcnow

    role = find_assumed_role(access_key)
    if role is not None:
        role.expiration = utcnow() - timedelta(seconds=1)
    return role


# --------------------------------------------------------------------------- organizations

ORG_ACCOUNT_STATUSES = ("ACTIVE", "SUSPENDED", "PENDING_CLOSURE")
ORG_LIST_ACCOUNTS_MAX = 20  # ListAccounts MaxResults: 1-20; also the page size without it


def _org_error(code: str, message: str, reason: str | None = None) -> Exception:
    from moto.core.exceptions import JsonRESTError

    err = JsonRESTError(code, message)
    body: dict[str, Any] = {"__type": code, "Message": message, "message": message}
    if reason:
        body["Reason"] = reason
    err.description = json.dumps(body)
    return err


def _patch_organizations() -> None:
    """ListAccounts as AWS answers it: only the management account (or a delegated
    administrator) of an organization may call it, 20 accounts a page by default (MaxResults
    1-20), in joining order."""
    from moto.organizations import responses as orr
    from moto.organizations.models import organizations_backends

    def readable_backend(self: Any) -> Any:
        """The organization the caller may read: its own (management account), or the one it
        is a delegated administrator of; else the error AWS answers."""
        caller = self.current_account
        partition = self.partition
        backend = organizations_backends[caller][partition]
        if backend.org is None:
            management = organizations_backends.master_accounts.get(caller)
            if management is None:
                raise _org_error("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
            backend = organizations_backends[management[0]][management[1]]
            if not any(admin.account.id == caller for admin in backend.admins):
                raise _org_error("AccessDeniedException", "You don't have permissions to access this resource.")
        return backend

    def list_accounts(self: Any) -> str:
        backend = readable_backend(self)
        max_results = self._get_param("MaxResults")
        if max_results is not None:
            if not isinstance(max_results, int) or isinstance(max_results, bool):
                raise _org_error("InvalidInputException", "MaxResults must be an integer.", "INVALID_LIST_MEMBER")
            if max_results < 1:
                raise _org_error("InvalidInputException", "You provided a value that is less than the minimum allowed value.",
                                 "MIN_VALUE_EXCEEDED")
            if max_results > ORG_LIST_ACCOUNTS_MAX:
                raise _org_error("InvalidInputException", "You provided a value that exceeds the maximum allowed value.",
                                 "MAX_VALUE_EXCEEDED")
        size = max_results or ORG_LIST_ACCOUNTS_MAX
        start = decode_token("orgaccounts", self._get_param("NextToken"))
        if start is None:
            raise _org_error("InvalidInputException", "The specified pagination token isn't valid.", "INVALID_NEXT_TOKEN")
        accounts = sorted(backend.accounts, key=lambda a: a.create_time)
        result: dict[str, Any] = {"Accounts": [_org_account(a) for a in accounts[start : start + size]]}
        if start + size < len(accounts):
            result["NextToken"] = encode_token("orgaccounts", start + size)
        return json.dumps(result)

    def describe_account(self: Any) -> str:
        backend = readable_backend(self)
        account_id = self._get_param("AccountId")
        if not isinstance(account_id, str) or not ACCOUNT_KEY_RE.match(account_id):
            raise _org_error("InvalidInputException", "You specified an invalid value.", "INVALID_INPUT")
        account = next((a for a in backend.accounts if a.id == account_id), None)
        if account is None:
            raise _org_error("AccountNotFoundException", "You specified an account that doesn't exist.")
        return json.dumps({"Account": _org_account(account)})

    orr.OrganizationsResponse.list_accounts = list_accounts
    orr.OrganizationsResponse.describe_account = describe_account


def _org_account(account: Any) -> dict[str, Any]:
    """An account as Organizations shows it since 2026-09-09: ``State``, and no ``Status``
    (retired that day), so a reader that still needs ``Status`` fails here as it would there."""
    described = dict(account.describe())
    described.pop("Status", None)
    return described


def register_organization_account(payload: Any) -> dict[str, Any]:
    """The organizations/account control: makes ``Id`` (an emulator account) a member of the
    organization whose management account is ``ManagementAccount``, creating that organization
    (FeatureSet ALL) when the account has none."""
    from moto.core.utils import utcnow
    from moto.organizations import utils as org_utils
    from moto.organizations.models import FakeAccount, organizations_backends

    if not isinstance(payload, dict):
        raise ValueError("body must be {\"ManagementAccount\": ..., \"Id\": ..., \"Name\": ...}")
    allowed = {"ManagementAccount", "Id", "Name", "Email", "Status"}
    if set(payload) - allowed:
        raise ValueError(f"unknown fields: {sorted(set(payload) - allowed)}; allowed: {sorted(allowed)}")
    management, account_id, name = payload.get("ManagementAccount"), payload.get("Id"), payload.get("Name")
    for label, value in (("ManagementAccount", management), ("Id", account_id)):
        if not isinstance(value, str) or not ACCOUNT_KEY_RE.match(value):
            raise ValueError(f"{label} must be a 12-digit account id")
    if not isinstance(name, str) or not 1 <= len(name) <= 50:
        raise ValueError("Name must be a string of 1-50 characters")
    email = payload.get("Email") or f"aws+{account_id}@example.com"
    status = payload.get("Status") or "ACTIVE"
    if status not in ORG_ACCOUNT_STATUSES:
        raise ValueError(f"Status must be one of {', '.join(ORG_ACCOUNT_STATUSES)}")
    if management in organizations_backends.master_accounts:
        raise ValueError(f"{management} is a member of the organization of {organizations_backends.master_accounts[management][0]}, not a management account")
    backend = organizations_backends[management]["aws"]
    if backend.org is None:
        backend.create_organization(region="us-east-1", FeatureSet="ALL")
    org = backend.org
    if account_id == management:
        if status != "ACTIVE":
            raise ValueError("the management account's Status is ACTIVE")
        account = backend.get_account_by_id(management)
    else:
        owner = organizations_backends.master_accounts.get(account_id)
        if owner is not None and owner[0] != management:
            raise ValueError(f"{account_id} is already a member of the organization of {owner[0]}")
        own = (organizations_backends.get(account_id) or {}).get("aws")
        if own is not None and own.org is not None:
            raise ValueError(f"{account_id} is the management account of its own organization")
        account = next((a for a in backend.accounts if a.id == account_id), None)
        if account is None:
            # FakeAccount's constructor draws a random id and makes OrganizationAccountAccessRole
            # in it (what CreateAccount does); an invited account gets neither.
            account = FakeAccount.__new__(FakeAccount)
            account.type = "ACCOUNT"
            account.region = org.region
            account.organization_id = org.id
            account.master_account_id = org.master_account_id
            account.create_account_status_id = org_utils.make_random_create_account_status_id()
            account.id = account_id
            account.create_time = utcnow()
            account.joined_method = "INVITED"
            account.parent_id = org.root_id
            account.attached_policies = []
            account.tags = {}
            backend.accounts.append(account)
            for policy_id in (org_utils.DEFAULT_SCP_POLICY_ID, org_utils.DEFAULT_RCP_POLICY_ID):
                backend.attach_policy(PolicyId=policy_id, TargetId=account_id)
            organizations_backends.master_accounts[account_id] = (management, "aws")
    account.name = name
    account.email = email
    account.status = account.state = status
    return {"OrganizationId": org.id, "ManagementAccount": management, **_org_account(account)}


# --------------------------------------------------------------------------- sqs


def _sqs_entry_bytes(entry: dict[str, Any]) -> int:
    """A batch entry's size as SQS counts it: the body's UTF-8 bytes plus each message
    attribute's name, data type and value."""
    size = len(str(entry.get("MessageBody") or "").encode("utf-8"))
    for name, attribute in (entry.get("MessageAttributes") or {}).items():
        size += len(str(name).encode("utf-8"))
        if not isinstance(attribute, dict):
            continue
        size += len(str(attribute.get("DataType") or "").encode("utf-8"))
        if attribute.get("StringValue") is not None:
            size += len(str(attribute["StringValue"]).encode("utf-8"))
        value = attribute.get("BinaryValue")
        if isinstance(value, (bytes, bytearray)):
            size += len(value)
        elif isinstance(value, str):
            try:
                size += len(base64.b64decode(value))
            except ValueError:
                size += len(value.encode("utf-8"))
    return size


def _patch_sqs() -> None:
    """SendMessageBatch's limits checked in AWS's terms before moto's own checks: at most 10
    entries (TooManyEntriesInBatchRequest), ids of 1-80 ``[A-Za-z0-9_-]``
    (InvalidBatchEntryId), distinct ids (BatchEntryIdsNotDistinct), the entries' bodies and
    attributes together at most 1 MiB in UTF-8 bytes (BatchRequestTooLong; moto counts the
    bodies' characters only)."""
    from moto.sqs import exceptions as sx
    from moto.sqs import models as sm

    Backend = sm.SQSBackend
    original = Backend.send_message_batch

    def send_message_batch(self: Any, queue_name: str, entries: dict[str, dict[str, Any]]) -> Any:
        values = list(entries.values())
        if len(values) > 10:
            raise sx.TooManyEntriesInBatchRequest(len(values))
        if any(not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", str(e.get("Id") or "")) for e in values):
            raise sx.InvalidBatchEntryId()
        seen: set[str] = set()
        for entry in values:
            if entry["Id"] in seen:
                raise sx.BatchEntryIdsNotDistinct(entry["Id"])
            seen.add(entry["Id"])
        total = sum(_sqs_entry_bytes(e) for e in values)
        if total > sm.MAXIMUM_MESSAGE_LENGTH:
            raise sx.BatchRequestTooLong(total)
        return original(self, queue_name, entries)

    Backend.send_message_batch = send_message_batch


# --------------------------------------------------------------------------- faults

def error_response(request: dict[str, Any], status: int, code: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    reason, headers, data = error_parts(request, status, code, message)
    headers.append(("Content-Length", str(len(data))))
    return f"{status} {reason}", headers, data


class State:
    """The request log and fault rules, shared by every request thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []

    def record(self, request: dict[str, Any]) -> None:
        entry = {k: request[k] for k in ("service", "action", "account", "region")}
        entry["params"] = request.get("params") or {}
        with self.lock:
            self.requests.append(entry)

    def take_fault(self, request: dict[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            for rule in self.faults:
                if rule["action"] not in ("*", request["action"]):
                    continue
                if rule.get("service") and rule["service"].lower() != request["service"]:
                    continue
                if rule.get("account") and rule["account"] != request["account"]:
                    continue
                if rule.get("count") is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.faults.remove(rule)
                return dict(rule)
        return None


def parse_fault(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("a fault rule must be a JSON object")
    known = {"action", "service", "account", "status", "code", "message", "count", "delay_ms", "reset"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    if not isinstance(raw.get("action"), str) or not raw["action"]:
        raise ValueError("fault rule needs an 'action' (use '*' for any)")
    rule = {k: v for k, v in raw.items() if v is not None}
    if "status" in rule:
        rule["status"] = int(rule["status"])
        if not 400 <= rule["status"] <= 599:
            raise ValueError("status must be 400-599")
    if "code" in rule and "status" not in rule:
        rule["status"] = 400
    if "status" in rule and "code" not in rule:
        rule["code"] = DEFAULT_CODES.get(rule["status"], "InternalFailure")
    if "count" in rule:
        rule["count"] = int(rule["count"])
        if rule["count"] < 1:
            raise ValueError("count must be at least 1")
    if "delay_ms" in rule:
        rule["delay_ms"] = int(rule["delay_ms"])
    rule["reset"] = bool(rule.get("reset", False))
    return rule


ROLE_PATH_RE = re.compile(r"^/(?:[\x21-\x7e]+/)?$")
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def make_role(payload: Any) -> dict[str, Any]:
    """The iam/role control: makes (or finds, then updates) a role in an account's IAM."""
    if not isinstance(payload, dict) or not payload.get("Account") or not payload.get("RoleName"):
        raise ValueError("body must be {\"Account\": ..., \"RoleName\": ..., \"AssumeRolePolicyDocument\"?: ..., "
                         "\"Path\"?: ..., \"MaxSessionDuration\"?: ...}")
    allowed = {"Account", "RoleName", "AssumeRolePolicyDocument", "Path", "MaxSessionDuration"}
    if set(payload) - allowed:
        raise ValueError(f"unknown fields: {sorted(set(payload) - allowed)}; allowed: {sorted(allowed)}")
    account = str(payload["Account"])
    if not ACCOUNT_KEY_RE.match(account):
        raise ValueError("Account must be a 12-digit account id")
    name = str(payload["RoleName"])
    if not re.fullmatch(r"[\w+=,.@-]{1,64}", name, re.ASCII):
        raise ValueError("RoleName must be 1-64 of [A-Za-z0-9_+=,.@-]")
    document = payload.get("AssumeRolePolicyDocument")
    trust = None
    if document is not None:
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError as err:
                raise ValueError(f"AssumeRolePolicyDocument is not JSON: {err}")
        if not isinstance(document, dict) or "Statement" not in document:
            raise ValueError("AssumeRolePolicyDocument must be a policy object with a Statement")
        trust = json.dumps(document)
    path = payload.get("Path")
    if path is not None and (not isinstance(path, str) or not ROLE_PATH_RE.match(path) or len(path) > 512):
        raise ValueError("Path must be / or /segments/ (printable ASCII, at most 512 characters)")
    max_session = payload.get("MaxSessionDuration")
    if max_session is not None and (isinstance(max_session, bool) or not isinstance(max_session, int)
                                    or not STS_DEFAULT_MAX_SESSION <= max_session <= STS_MAX_DURATION):
        raise ValueError(f"MaxSessionDuration must be an integer {STS_DEFAULT_MAX_SESSION}-{STS_MAX_DURATION}")
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["aws"]
    try:
        role = iam.get_role(name)
    except Exception:
        role = iam.create_role(role_name=name, assume_role_policy_document=trust or json.dumps(LAMBDA_TRUST),
                               path=path or "/", permissions_boundary=None, description="", tags=[],
                               max_session_duration=str(max_session or STS_DEFAULT_MAX_SESSION))
    else:
        if path is not None and path != role.path:
            raise ValueError(f"role {name} exists with Path {role.path}: IAM cannot change a role's path")
        if trust is not None:
            role.assume_role_policy_document = trust
        if max_session is not None:
            role.max_session_duration = str(max_session)
    try:
        current = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        current = role.assume_role_policy_document
    return {"Arn": role.arn, "RoleName": role.name, "Path": role.path, "AssumeRolePolicyDocument": current,
            "MaxSessionDuration": int(role.max_session_duration or STS_DEFAULT_MAX_SESSION)}


# --------------------------------------------------------------------------- WSGI app


class ConnectionDropped(ConnectionResetError):
    pass


class EsmGuardApp:
    def __init__(self, moto_app: Any, state: State):
        self.moto_app = moto_app
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "") or ""
        if path == "/_esm_guard" or path.startswith("/_esm_guard/"):
            return self.control(environ, start_response)
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        try:
            request = describe_request(environ)
        except Exception:
            log.exception("describing request %s %s", environ.get("REQUEST_METHOD"), path)
            request = None
        if request is not None:
            self.state.record(request)
            rule = self.state.take_fault(request)
            if rule is not None:
                if rule.get("delay_ms"):
                    time.sleep(rule["delay_ms"] / 1000.0)
                if rule.get("reset"):
                    self.drop_connection(environ)
                if rule.get("status"):
                    status, headers, body = error_response(
                        request, rule["status"], rule["code"], rule.get("message") or f"Injected fault: {rule['code']}"
                    )
                    _read_body(environ)  # drain the request so the connection stays usable
                    start_response(status, headers)
                    return [body]
            try:
                refused = credential_rejection(request) or sts_rejection(request)
            except Exception:  # a bug here must not take the request down: moto answers it
                log.exception("checking the credentials of %s %s", request["service"], request["action"])
                refused = None
            if refused is not None:
                status, headers, body = error_response(request, refused.status, refused.code, refused.message)
                _read_body(environ)
                start_response(status, headers)
                return [body]
            rejection = scheduler_rejection(request, environ)
            if rejection is not None:
                status, headers, body = scheduler_error_response(request, rejection)
                start_response(status, headers)
                return [body]
        return self.moto_app(environ, start_response)

    @staticmethod
    def drop_connection(environ: dict[str, Any]) -> None:
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionDropped("fault injection: connection dropped")

    # -- control endpoints

    def control(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "").rstrip("/")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            body = _read_body(environ)
            payload = json.loads(body) if body.strip() else None
        except ValueError as err:
            return self.reply(start_response, 400, {"error": f"invalid JSON body: {err}"})
        try:
            status, result = self.dispatch_control(method, path, query, payload)
        except (ValueError, TypeError) as err:
            status, result = 400, {"error": str(err)}
        except Exception as err:  # keep the emulator alive, tell the test what broke
            log.exception("control endpoint %s %s", method, path)
            status, result = 500, {"error": f"{type(err).__name__}: {err}"}
        return self.reply(start_response, status, result)

    def dispatch_control(self, method: str, path: str, query: dict[str, str], payload: Any) -> tuple[int, Any]:
        state = self.state
        if path == "/_esm_guard/health" and method == "GET":
            return 200, {"ok": True}
        if path == "/_esm_guard/requests":
            account = query.get("account")
            if method == "GET":
                with state.lock:
                    entries = [
                        dict(e)
                        for e in state.requests
                        if (not account or e["account"] == account)
                        and (not query.get("service") or e["service"] == query["service"])
                        and (not query.get("action") or e["action"] == query["action"])
                    ]
                return 200, entries
            if method == "DELETE":
                with state.lock:
                    state.requests = [e for e in state.requests if account and e["account"] != account]
                return 200, {"ok": True}
        if path == "/_esm_guard/faults":
            if method == "GET":
                with state.lock:
                    return 200, {"faults": [dict(f) for f in state.faults]}
            if method == "POST":
                rules = payload if isinstance(payload, list) else [payload]
                parsed = [parse_fault(r) for r in rules]
                with state.lock:
                    state.faults.extend(parsed)
                    return 200, {"faults": [dict(f) for f in state.faults]}
            if method == "DELETE":
                # ?account=ID clears that account's rules only (tests run in parallel).
                account = query.get("account")
                with state.lock:
                    state.faults = [f for f in state.faults if account and f.get("account") != account]
                return 200, {"ok": True}
        m = re.match(r"^/_esm_guard/esm/([\w-]+)$", path)
        if m and method == "POST":
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
            allowed = {"State", "LastProcessingResult", "StateTransitionReason"}
            if set(payload) - allowed:
                raise ValueError(f"settable fields: {sorted(allowed)}")
            esm = find_event_source_mapping(m.group(1))
            if esm is None:
                return 404, {"error": f"no event source mapping {m.group(1)}"}
            overrides = getattr(esm, "_esm_guard_overrides", None)
            if overrides is None:
                overrides = esm._esm_guard_overrides = {}
            for key, value in payload.items():
                if value is None:
                    overrides.pop(key, None)
                else:
                    overrides[key] = str(value)
            return 200, esm.get_configuration()
        if path == "/_esm_guard/kafka/cluster" and method == "POST":
            if not isinstance(payload, dict) or not payload.get("ClusterArn") or not payload.get("State"):
                raise ValueError("body must be {\"ClusterArn\": ..., \"State\": ...}")
            cluster = find_kafka_cluster(payload["ClusterArn"])
            if cluster is None:
                return 404, {"error": f"no MSK cluster {payload['ClusterArn']}"}
            cluster.state = str(payload["State"])
            return 200, {"ClusterArn": cluster.arn, "State": cluster.state}
        if path == "/_esm_guard/kafka/vpc-connection" and method == "POST":
            arn, state = _state_control(payload, "Arn", "State", VPC_CONNECTION_STATES)
            connection = find_kafka_vpc_connection(arn)
            if connection is None:
                return 404, {"error": f"no MSK VPC connection {arn}"}
            connection.state = state
            return 200, {"Arn": connection.arn, "State": connection.state}
        if path == "/_esm_guard/mq/broker" and method == "POST":
            broker_id, state = _state_control(payload, "BrokerId", "BrokerState", MQ_BROKER_STATES)
            broker = find_mq_broker(broker_id)
            if broker is None:
                return 404, {"error": f"no Amazon MQ broker {broker_id}"}
            broker.state = state
            return 200, {"BrokerId": broker.id, "BrokerState": broker.state}
        if path == "/_esm_guard/docdb/cluster" and method == "POST":
            arn, status = _state_control(payload, "DBClusterArn", "Status", None)
            cluster = find_rds_cluster(arn)
            if cluster is None:
                return 404, {"error": f"no DB cluster {arn}"}
            cluster._esm_guard_status = status
            return 200, {"DBClusterArn": cluster.db_cluster_arn, "Status": cluster.status}
        m = re.match(r"^/_esm_guard/ec2/nat-gateway/(nat-[\w]+)$", path)
        if m and method == "POST":
            if not isinstance(payload, dict) or not payload.get("State"):
                raise ValueError("body must be {\"State\": ...}")
            nat = find_nat_gateway(m.group(1))
            if nat is None:
                return 404, {"error": f"no NAT gateway {m.group(1)}"}
            nat.state = str(payload["State"])
            return 200, {"NatGatewayId": nat.id, "State": nat.state}
        if path == "/_esm_guard/iam/role" and method == "POST":
            return 200, make_role(payload)
        if path == "/_esm_guard/sts/expire" and method == "POST":
            if not isinstance(payload, dict) or set(payload) != {"AccessKeyId"}:
                raise ValueError("body must be {\"AccessKeyId\": \"ASIA...\"}")
            role = expire_session(str(payload["AccessKeyId"]))
            if role is None:
                return 404, {"error": f"no assumed-role credentials {payload['AccessKeyId']}"}
            return 200, {"AccessKeyId": role.access_key_id, "Expiration": rfc3339_utc(role.expiration.replace(tzinfo=timezone.utc))}
        if path == "/_esm_guard/organizations/account" and method == "POST":
            return 200, register_organization_account(payload)
        return 404, {"error": f"no control endpoint {method} {path}"}

    @staticmethod
    def reply(start_response: Any, status: int, payload: Any) -> list[bytes]:
        data = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}.get(status, "")
        start_response(
            f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        )
        return [data]


# --------------------------------------------------------------------------- main

PREWARM = ("ec2", "awslambda", "kafka", "mq", "rds", "sns", "sqs", "dynamodb", "events", "sts", "iam", "scheduler")


def build_app() -> tuple[EsmGuardApp, Any]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    apply_patches()
    dispatcher = DomainDispatcherApplication(create_backend_app)
    return EsmGuardApp(dispatcher, State()), dispatcher


def prewarm(dispatcher: Any) -> None:
    """Builds the Flask apps and REST routes up front so the first test request is not slow."""
    for service in PREWARM:
        try:
            with dispatcher.lock:
                if service not in dispatcher.app_instances:
                    dispatcher.app_instances[service] = dispatcher.create_app(service)
        except Exception:
            log.exception("prewarming %s", service)
    for service in ("lambda", "kafka", "mq", "scheduler"):
        REST_ROUTER.operation(service, "GET", "/", {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument(
        "--no-stdin-watch", action="store_true", help="do not exit when stdin reaches EOF (for manual runs)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="emulator: %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.ERROR)

    from werkzeug.serving import make_server

    from moto.moto_server.werkzeug_app import MotoRequestHandler

    app, dispatcher = build_app()
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    server.daemon_threads = True
    port = server.server_port
    os.environ.setdefault("MOTO_PORT", str(port))

    serve_until_stopped(
        server,
        args.host,
        port,
        watch_stdin=not args.no_stdin_watch,
        log=log,
        after_ready=lambda: threading.Thread(target=prewarm, args=(dispatcher,), name="prewarm", daemon=True).start(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

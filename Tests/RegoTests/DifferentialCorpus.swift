/// Policies for the differential test against OPA: each is one package below `diff`, evaluated as a
/// whole document (`data.diff.<name>`) for every generated input. They cover the language and the
/// builtin families an agent policy uses.
enum DifferentialCorpus {
    static let data = #"""
        {"roles": {"support": ["refund.read", "ticket.write"], "finance": ["refund.write", "refund.read", "invoice.*"],
                   "admin": ["*"]},
         "limits": {"refund": 250.50, "invoice": 1e3, "transfer": 10000},
         "blocked_agents": ["rogue-1", "rogue-2"],
         "risk_order": {"low": 1, "medium": 2, "high": 3, "critical": 4}}
        """#

    static let policies: [String: String] = [
        "agent.rego": #"""
        package diff.agent

        default allow := false

        allow if {
            not input.agent.id in data.blocked_agents
            data.risk_order[input.tool.risk] < 3
            some role in input.agent.roles
            some permission in data.roles[role]
            glob.match(permission, ["."], sprintf("%s.%s", [input.tool.name, input.action]))
        }

        deny contains "blocked agent" if input.agent.id in data.blocked_agents
        deny contains sprintf("risk %s needs approval", [input.tool.risk]) if data.risk_order[input.tool.risk] >= 3

        effect := "allow" if allow
        else := "require_approval" if input.tool.risk == "high"
        else := "deny"
        """#,
        "numbers.rego": #"""
        package diff.numbers

        amount := input.request.amount
        over_limit if amount > data.limits[input.tool.name]
        doubled := amount * 2
        total := amount + input.cost
        ratio := amount / 3 if amount != 0
        remainder := round(amount) % 7
        rounded := [round(amount), ceil(amount), floor(amount), abs(amount)]
        fraction := amount - floor(amount)
        big := amount * 1000000000000
        as_text := format_int(floor(amount), 16)
        ordered := sort([amount, input.cost, 0.5, -1, 3])
        stats := {"max": max([amount, input.cost]), "min": min([amount, input.cost]), "sum": sum([amount, input.cost]), "product": product([1.5, amount])}
        parsed := to_number(sprintf("%v", [amount]))
        low_bits := bits.and(floor(abs(amount)), 255)
        """#,
        "strings.rego": #"""
        package diff.strings

        name := input.tool.name
        upper_name := upper(name)
        parts := split(input.request.path, "/")
        joined := concat("-", parts)
        trimmed := trim(input.request.path, "/")
        has_prefix := startswith(input.request.path, "/api")
        has_suffix := endswith(input.request.email, ".com")
        index := indexof(input.request.email, "@")
        domain := substring(input.request.email, index + 1, -1) if index >= 0
        replaced := replace(input.request.path, "/", ":")
        # Computed numbers: OPA reprints a number literal as written (1e3, 0.630), Warden canonically
        # (docs/CONFORMANCE.md); arithmetic results are canonical in both.
        formatted := sprintf("%s does %s with %d items costing %.2f (%v)", [input.agent.id, input.action, count(input.request.tags), input.cost * 1.5, input.request.tags])
        formatted_int := sprintf("%d items, %5.1f%% used, %v", [count(input.request.tags), count(input.request.tags) * 12.5, input.request.amount + 0])
        matched := regex.match(`^[a-z]+@[a-z]+\.(com|org)$`, input.request.email)
        found := regex.find_n(`[a-z]+`, input.request.path, -1)
        template := $"{input.agent.id} -> {name} ({count(input.request.tags)})"
        reversed := strings.reverse(name)
        counted := strings.count(input.request.path, "/")
        lower_tags := [lower(t) | some t in input.request.tags]
        """#,
        "collections.rego": #"""
        package diff.collections

        tags := {t | some t in input.request.tags}
        tag_count := count(tags)
        common := tags & {"pii", "finance", "ops"}
        all_tags := tags | {"default"}
        only := tags - {"pii"}
        by_role[role] := count(data.roles[role]) if some role in input.agent.roles
        permissions contains p if {
            some role in input.agent.roles
            some p in data.roles[role]
        }
        indexed := {i: t | some i, t in input.request.tags}
        firsts := array.slice(input.request.tags, 0, 2)
        concatenated := array.concat(input.request.tags, ["x"])
        reversed := array.reverse(input.request.tags)
        keys := object.keys(data.limits)
        merged := object.union({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}})
        got := object.get(data.limits, input.tool.name, "none")
        filtered := object.filter(data.limits, ["refund", "nothing"])
        removed := object.remove(data.limits, ["refund"])
        every_short if every t in input.request.tags { count(t) < 10 }
        any_pii if "pii" in input.request.tags
        nested := [[x, y] | some x in [1, 2]; some y in input.request.tags; x < count(y)]
        """#,
        "functions.rego": #"""
        package diff.functions

        risk_score(tool) := 10 if tool.risk == "critical"
        risk_score(tool) := 5 if tool.risk == "high"
        risk_score(tool) := 1 if not tool.risk in {"critical", "high"}

        cost_class(c) := "cheap" if c < 1
        cost_class(c) := "moderate" if { c >= 1; c < 100 }
        cost_class(c) := "expensive" if c >= 100

        score := risk_score(input.tool) * count(input.agent.roles)
        class := cost_class(input.cost)
        pairs := [[k, v] | some k, v in data.limits; v > input.cost]

        default quota := 0
        quota := data.limits[input.tool.name] - input.request.amount if input.request.amount < data.limits[input.tool.name]
        """#,
        "encoding.rego": #"""
        package diff.encoding

        encoded := base64.encode(input.request.email)
        decoded := base64.decode(encoded)
        url := base64url.encode(input.request.path)
        hex_id := hex.encode(input.agent.id)
        query := urlquery.encode_object({"tool": input.tool.name, "tags": input.request.tags})
        escaped := urlquery.encode(input.request.path)
        json_text := json.marshal({"agent": input.agent.id, "tags": input.request.tags, "cost": input.cost + 0})
        round_trip := json.unmarshal(json_text)
        sha := crypto.sha256(input.agent.id)
        md5 := crypto.md5(input.request.path)
        hmac := crypto.hmac.sha256(input.request.email, "secret")
        valid_json := json.is_valid(input.request.path)
        """#,
        "types.rego": #"""
        package diff.types

        kinds := [type_name(x) | some x in [input.cost, input.request.tags, input.agent, null, true, "s", {1}]]
        is_num := is_number(input.request.amount)
        cmp := [input.cost < input.request.amount, input.cost == input.request.amount, [1, 2] < [1, 3], {"a": 1} == {"a": 1}]
        ordering := sort([input.agent.id, input.tool.name, input.action])
        size := units.parse_bytes("10KiB")
        version := semver.compare("1.2.3", "1.10.0")
        valid_semver := semver.is_valid(input.tool.name)
        cidr := net.cidr_contains("10.0.0.0/8", "10.1.2.3")
        within := time.add_date(0, 0, 0, 1) >= 0
        """#,
        "partial.rego": #"""
        package diff.partial

        tools[name] := risk if {
            some name, risk in {"refund": "high", "lookup": "low", input.tool.name: input.tool.risk}
        }

        violations contains v if {
            some tag in input.request.tags
            startswith(tag, "p")
            v := {"tag": tag, "agent": input.agent.id}
        }

        report.summary.count := count(violations)
        report.summary.agent := input.agent.id
        report.by_tag[tag] := true if some tag in input.request.tags

        allowed_actions := {a | some a in ["read", "write", "delete"]; a != input.action}
        """#,
        "formats.rego": #"""
        package diff.formats

        # URLs (Go's net/url rules) and YAML documents in the request. The library OPA is called
        # through stops at builtin errors, so the parsers run on what their validators accept.
        url := uri.parse(input.request.url) if uri.is_valid(input.request.url)
        url_valid := uri.is_valid(input.request.url)
        same_host if url.hostname == "example.com"
        path_url := uri.parse(input.request.path) if uri.is_valid(input.request.path)
        yaml_doc := yaml.unmarshal(input.request.yaml) if yaml.is_valid(input.request.yaml)
        yaml_valid := yaml.is_valid(input.request.yaml)
        yaml_round := yaml.unmarshal(yaml.marshal(input))

        # Times: Go layouts, IANA zones, calendar differences.
        when := [input.time.ns, input.time.zone]
        formatted := time.format([input.time.ns, input.time.zone, input.time.layout])
        reparsed := time.parse_ns(input.time.layout, formatted) if not contains(input.time.layout, "MST")
        calendar := [time.date(when), time.clock(when), time.weekday(when)]
        since := time.diff(when, [1700000000000000000, "UTC"])
        stamp := time.parse_rfc3339_ns(input.time.stamp)

        # Glob intersection and templates.
        globs := [regex.globs_match(input.globs[0], input.globs[1]), regex.globs_match(input.globs[1], input.globs[0])]
        template := regex.template_match(concat("", ["urn:", input.globs[0], ":{[a-z.]*}"]), input.request.email, "{", "}")

        # Go text/template (numbers left out: OPA prints a number as its input text was written).
        rendered := strings.render_template(
        	`{{.agent.id}}: {{range $i, $t := .request.tags}}{{if $i}}, {{end}}{{$t | printf "%q"}}{{else}}no tags{{end}} {{len .request.tags}} {{.tool}} {{with .request.path}}{{slice . 0 1}}{{end}} {{if eq .action "read" "write"}}rw{{else}}{{.action | html}}{{end}} {{.missing}}`,
        	input,
        )
        """#,
        "schemas.rego": #"""
        package diff.schemas

        # JSON Schema over the whole input: the error objects (type, field, texts) must be OPA's. Errors
        # are sorted: OPA visits an object's properties in Go's random map order.
        tool_input := {
        	"type": "object",
        	"required": ["agent", "tool", "action"],
        	"properties": {
        		"agent": {"type": "object", "properties": {
        			"id": {"type": "string", "minLength": 1, "pattern": "^[a-z]+-?[a-z0-9]*$"},
        			"roles": {"type": "array", "items": {"enum": ["support", "finance", "admin"]}, "uniqueItems": true, "maxItems": 2},
        		}},
        		"tool": {"properties": {"name": {"pattern": "^[a-z]+$"}, "risk": {"enum": ["low", "medium", "high"]}}},
        		"action": {"oneOf": [{"const": "read"}, {"const": "write"}]},
        		"request": {
        			"properties": {
        				"amount": {"type": "number", "minimum": 0, "maximum": 1000, "multipleOf": 0.5},
        				"email": {"format": "email"},
        				"url": {"format": "uri"},
        				"tags": {"contains": {"const": "pii"}, "items": {"type": "string", "maxLength": 8}},
        				"path": {"anyOf": [{"pattern": "^/"}, {"maxLength": 0}]},
        			},
        			"additionalProperties": {"type": "string"},
        		},
        		"cost": {"type": "integer", "exclusiveMinimum": 0},
        		"time": {
        			"if": {"properties": {"zone": {"const": "UTC"}}},
        			"then": {"required": ["stamp"], "properties": {"ns": {"maximum": 0}}},
        			"else": {"properties": {"layout": {"not": {"enum": ["RFC1123", "DateOnly"]}}}},
        		},
        	},
        	"dependencies": {"globs": ["time"], "cost": {"properties": {"cost": {"minimum": -5}}}},
        	"propertyNames": {"maxLength": 7},
        }

        valid := json.match_schema(input, tool_input)[0]
        errors := sort(json.match_schema(input, tool_input)[1])
        fields[e.field] contains e.type if some e in json.match_schema(input, tool_input)[1]
        schema_ok := json.verify_schema(tool_input)
        schema_text := json.match_schema(json.marshal(input.request), json.marshal(tool_input.properties.request))[0]
        """#,
    ]
}

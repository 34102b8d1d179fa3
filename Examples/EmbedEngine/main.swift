// Embedding onced: a set-once profile store inside your own program.
//   swift run embed-example [DB] [RULES]
import OnceEngine

let arguments = CommandLine.arguments
let rules = arguments.count > 2 ? try RuleRuntime(directory: arguments[2]) : nil
let engine = try Engine(sqlitePath: arguments.count > 1 ? arguments[1] : "embedded.db", rules: rules)
let namespace = Namespace(workspace: "FY12345678", version: .live)

for plan in ["pro", "free"] {  // first writer wins: the second set_once is unchanged
    let properties = JSONObject([.init("plan", .string(plan)), .init("signup_date", .string("01/10/2020"))])
    let request = WriteRequest(namespace: namespace, elements: [
        Element(distinctID: "user-42", ops: [OpInput(op: .setOnce, properties: properties)]),
    ])
    let record = try await engine.submit(request)
    for result in record.propertyResults { print("\(result.name): \(result.outcome.rawValue)") }
}
let profile = try await engine.profile("user-42", in: namespace)
print("plan = \(profile?["plan"]?.json.text ?? "nil"), signup_date = \(profile?["signup_date"]?.json.text ?? "nil")")
try await engine.close()

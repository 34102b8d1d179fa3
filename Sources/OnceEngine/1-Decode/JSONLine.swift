/// One line of `onced apply` input (SPEC §5):
/// `{"workspace": "...", "version": "live", "distinct_id": "...", "$once": {...}, ...}`.
public enum JSONLine {
    /// The request one line asks for; a shape error names what is wrong.
    public static func request(from bytes: some Collection<UInt8>,
                               limits: RequestLimits = RequestLimits()) throws(DecodeError) -> WriteRequest {
        let json: JSON
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw DecodeError("malformed JSON: \(error)")
        }
        guard let object = json.objectValue else { throw DecodeError("each line must be a JSON object") }
        guard let workspace = object["workspace"]?.stringValue else { throw DecodeError("missing workspace") }
        guard let version = object["version"]?.stringValue else { throw DecodeError("missing version") }
        let namespace = try RequestDecoder.namespace(workspace: workspace, version: version)
        let distinctID = try RequestDecoder.distinctID(in: object)
        let element = try RequestDecoder.element(distinctID: distinctID, opsIn: object, limits: limits)
        return WriteRequest(namespace: namespace, elements: [element])
    }
}

import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { IDEMPOTENCY_KEY_HEADER } from '../functions/core/event-identity.js';
import { REQUEST_BODIES, REQUIRED_QUERY_PARAMETERS, requestModelSchema } from '../functions/core/openapi.js';
import { ROUTES, type RouteFamily } from '../functions/handlers/routes.js';

export interface DaysSinceApiProps {
  /** The Lambda that answers each route family. */
  handlers: Record<RouteFamily, IFunction>;
  /** Per API key: steady requests per second, and the burst above it. */
  throttle: { rateLimit: number; burstLimit: number };
  logRetention: RetentionDays;
}

export const STAGE_NAME = 'prod';

const refusal = (type: apigw.ResponseType, statusCode: string, error: string, message: string) => ({ type, statusCode, body: { error, message } });

// The same {error, message} shape the handlers answer with, for what API Gateway refuses on its own.
const GATEWAY_RESPONSES = [
  refusal(apigw.ResponseType.BAD_REQUEST_BODY, '400', 'invalid_request', '$context.error.validationErrorString'),
  // A DELETE /users without ?user_id=.
  refusal(apigw.ResponseType.BAD_REQUEST_PARAMETERS, '400', 'invalid_request', '$context.error.validationErrorString'),
  refusal(apigw.ResponseType.INVALID_API_KEY, '403', 'forbidden', 'a valid x-api-key header is required'),
  // Without IAM authorization this only means "no such path" (a wrong method on a known path reaches ANY).
  refusal(apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, '404', 'not_found', 'no route for this path'),
  refusal(apigw.ResponseType.THROTTLED, '429', 'throttled', 'too many requests for this API key: retry with backoff'),
];

/** The HTTPS front door: one resource per route, an API key on every method, throttled per key, bodies checked against the zod schemas. */
export class DaysSinceApi extends Construct {
  readonly api: apigw.RestApi;
  readonly apiKey: apigw.ApiKey;
  readonly usagePlan: apigw.UsagePlan;

  constructor(scope: Construct, id: string, props: DaysSinceApiProps) {
    super(scope, id);
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.api = new apigw.RestApi(this, 'Api', {
      // Named after the stack, so side-by-side copies are told apart in the console.
      restApiName: `${Stack.of(this).stackName}-api`,
      description: 'days-since: product backends report interactions; the team reads how long since a real user did something',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // Access logs need API Gateway's per-account-and-region logging role; each copy sets its own, and role and
      // setting are kept when a stack goes, as another copy's API may be logging through them (docs/deploy.md, API Gateway's logging role).
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      defaultMethodOptions: { apiKeyRequired: true },
      deployOptions: {
        stageName: STAGE_NAME,
        metricsEnabled: true,
        // Request and response bodies carry user ids and emails: never logged.
        dataTraceEnabled: false,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigw.AccessLogField.contextRequestId(),
            time: apigw.AccessLogField.contextRequestTime(),
            apiKeyId: apigw.AccessLogField.contextIdentityApiKeyId(),
            sourceIp: apigw.AccessLogField.contextIdentitySourceIp(),
            method: apigw.AccessLogField.contextHttpMethod(),
            resource: apigw.AccessLogField.contextResourcePath(),
            status: apigw.AccessLogField.contextStatus(),
            responseLength: apigw.AccessLogField.contextResponseLength(),
            latencyMs: apigw.AccessLogField.contextResponseLatency(),
            integrationLatencyMs: apigw.AccessLogField.contextIntegrationLatency(),
            error: apigw.AccessLogField.contextErrorMessage(),
            errorType: apigw.AccessLogField.contextErrorResponseType(),
            validationError: apigw.AccessLogField.contextErrorValidationErrorString(),
            integrationError: apigw.AccessLogField.contextIntegrationErrorMessage(),
          }),
        ),
      },
    });

    // The stack states its own ApiUrl output; RestApi's automatic one would repeat it under a generated name.
    this.api.node.tryRemoveChild('Endpoint');

    for (const response of GATEWAY_RESPONSES) {
      this.api.addGatewayResponse(`${response.type.responseType}Response`, {
        type: response.type,
        statusCode: response.statusCode,
        templates: { 'application/json': JSON.stringify(response.body) },
      });
    }

    // Bodies against their models, and required query parameters (the user_id of the DELETE routes).
    const bodyValidator = this.api.addRequestValidator('BodyValidator', { validateRequestBody: true, validateRequestParameters: true });
    const integrations = new Map<RouteFamily, apigw.LambdaIntegration>();
    for (const route of ROUTES) {
      let integration = integrations.get(route.family);
      if (!integration) {
        integration = new apigw.LambdaIntegration(props.handlers[route.family], { allowTestInvoke: false });
        integrations.set(route.family, integration);
      }
      const body = route.method === 'POST' && REQUEST_BODIES[route.path] ? this.requestModel(route.path) : undefined;
      const parameters = REQUIRED_QUERY_PARAMETERS[`${route.method} ${route.path}`] ?? [];
      const resource = this.api.root.resourceForPath(route.path);
      const requestParameters: Record<string, boolean> = {
        // API Gateway refuses a request without a required one (400, before the Lambda); the handler checks their values.
        ...Object.fromEntries(parameters.map((name) => [`method.request.querystring.${name}`, true])),
        // Declared as the OpenAPI document does, optional: the handler checks its value (400 naming it).
        ...(body ? { [`method.request.header.${IDEMPOTENCY_KEY_HEADER}`]: false } : {}),
      };
      resource.addMethod(route.method, integration, {
        ...(body || parameters.length > 0 ? { requestValidator: bodyValidator } : {}),
        ...(body ? { requestModels: { 'application/json': body } } : {}),
        ...(Object.keys(requestParameters).length > 0 ? { requestParameters } : {}),
      });
      // Every other method on a known path reaches the family's Lambda, which answers 405 with Allow; API
      // Gateway alone would answer 404. Explicit methods win over ANY, so validation stays on the real ones.
      if (!resource.node.tryFindChild('ANY')) resource.addMethod('ANY', integration);
    }

    this.apiKey = new apigw.ApiKey(this, 'ProductBackendKey', {
      description: 'days-since: for product backends reporting interactions (send it as x-api-key)',
    });
    this.usagePlan = this.api.addUsagePlan('UsagePlan', {
      description: 'days-since: throttle per API key',
      throttle: props.throttle,
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    this.usagePlan.addApiKey(this.apiKey);
    this.acknowledgeChecks();
  }

  /** The body model of a POST route, generated from the zod schema its handler parses with. */
  private requestModel(path: string): apigw.Model {
    const { $schema: _, ...schema } = requestModelSchema(path);
    return this.api.addModel(`Model${path.replace(/[^A-Za-z0-9]/g, '')}`, {
      contentType: 'application/json',
      description: `Body of POST ${path} (generated from the zod schema)`,
      // Same JSON Schema keywords as CDK's JsonSchema type; only $schema is spelled differently there.
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, ...schema } as apigw.JsonSchema,
    });
  }

  private acknowledgeChecks(): void {
    const reasons: Record<string, string> = {
      'AwsSolutions-APIG3':
        'Callers are a handful of product backends holding an API key; per-key usage-plan throttling bounds abuse, and a WAF web ACL would cost more than the whole service.',
      'AwsSolutions-APIG4':
        'Callers are machines, not people: every method requires an API key bound to a usage plan; there are no end-user identities to authorize.',
      'AwsSolutions-COG4':
        'Callers are machines, not people: every method requires an API key bound to a usage plan; there is no Cognito user pool to authorize against.',
    };
    for (const [id, reason] of Object.entries(reasons)) Validations.of(this.api).acknowledge({ id, reason });
    Validations.of(this.api.node.findChild('CloudWatchRole')).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason: "API Gateway's account-wide logging role needs exactly what AWS's AmazonAPIGatewayPushToCloudWatchLogs policy grants; the role is assumable only by API Gateway.",
    });
    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG6',
      reason:
        'JSON access logs record every request with its status, error, validation error and integration error; execution logs would add a log group API Gateway creates outside the stack with no retention.',
    });
  }
}

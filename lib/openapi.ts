import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../functions/core/openapi.js';
import { ROUTES } from '../functions/handlers/routes.js';

// `npm run openapi` prints the API's OpenAPI document; `npm run openapi -- openapi.json` writes it to a file.
const document = `${JSON.stringify(openApiDocument(ROUTES), null, 2)}\n`;
const file = process.argv[2];
if (file) {
  writeFileSync(file, document);
  console.error(`wrote ${file}`);
} else {
  process.stdout.write(document);
}

// A local ESLint rule for the architecture's import boundaries. Unlike no-restricted-imports,
// which matches the text of a specifier against patterns, it resolves every relative
// specifier against the importing file's folder, so '../pkcs11', '../../store/x' and
// './../log' are the same place however they are spelled. It sees every way a module can be
// loaded: import and import type, export ... from, export * from, import x = require(),
// dynamic import(), require(), module.require() and type-level import('...').
//
// Options (all folder and file paths absolute, without extension):
//   inside:   relative specifiers must resolve inside one of these folders (omit: anywhere).
//   outside:  relative specifiers must not resolve to or inside these paths.
//   typeOnly: paths under `outside` that type-only imports may still name (erased at compile time).
//   bare:     'node:' allows only `node:` built-ins as bare specifiers, listed in `forbiddenBuiltins`
//             excepted; 'any' allows every package.
//   message:  the architectural rule, quoted in every report.
import path from 'node:path';

const within = (file, folder) => file === folder || file.startsWith(folder + path.sep);

/** The module specifier of a call or expression, or null when it is not a plain string. */
function literal(node) {
  if (!node) return null;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0].value.cooked;
  return null;
}

const isRelative = (specifier) => specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../') || path.isAbsolute(specifier);

/** True when a declaration is erased at compile time: `import type`, or only `type` specifiers. */
function typeOnly(node) {
  if (node.importKind === 'type' || node.exportKind === 'type') return true;
  const specifiers = node.specifiers ?? [];
  return specifiers.length > 0 && specifiers.every((s) => s.importKind === 'type' || s.exportKind === 'type');
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'Allow-list and deny-list of what a folder may import, by resolved path' },
    schema: [{
      type: 'object',
      properties: {
        inside: { type: 'array', items: { type: 'string' } },
        outside: { type: 'array', items: { type: 'string' } },
        typeOnly: { type: 'array', items: { type: 'string' } },
        bare: { enum: ['node:', 'any'] },
        forbiddenBuiltins: { type: 'array', items: { type: 'string' } },
        message: { type: 'string' },
      },
      required: ['bare', 'message'],
      additionalProperties: false,
    }],
    messages: {
      forbidden: "'{{specifier}}' is not allowed here: {{message}}",
      computed: 'A module loaded by a computed name cannot be checked: {{message}}',
    },
  },
  create(context) {
    const options = context.options[0];
    const folder = path.dirname(context.filename);

    function allowed(specifier, erased) {
      if (!isRelative(specifier)) {
        if (options.bare === 'any') return true;
        return specifier.startsWith('node:') && !(options.forbiddenBuiltins ?? []).includes(specifier);
      }
      // '../log/logger.js' and '../log/logger/index' name the same module as '../log/logger'.
      const target = path.resolve(folder, specifier).replace(/\.[cm]?[jt]sx?$/, '').replace(/[/\\]index$/, '');
      if (options.inside && !options.inside.some((f) => within(target, f))) return false;
      if ((options.outside ?? []).some((f) => within(target, f))) {
        return erased && (options.typeOnly ?? []).some((f) => target === f);
      }
      return true;
    }

    function check(node, source, erased) {
      const specifier = literal(source);
      if (specifier === null) {
        context.report({ node, messageId: 'computed', data: { message: options.message } });
      } else if (!allowed(specifier, erased)) {
        context.report({ node, messageId: 'forbidden', data: { specifier, message: options.message } });
      }
    }

    return {
      ImportDeclaration: (node) => check(node, node.source, typeOnly(node)),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source, typeOnly(node)),
      ExportAllDeclaration: (node) => check(node, node.source, node.exportKind === 'type'),
      ImportExpression: (node) => check(node, node.source, false),
      TSImportEqualsDeclaration: (node) => {
        if (node.moduleReference.type === 'TSExternalModuleReference') check(node, node.moduleReference.expression, node.importKind === 'type');
      },
      // `import('x').T` in a type position.
      // (typescript-eslint 8 names the specifier `source`; `argument`, deprecated, is read only without it.)
      TSImportType: (node) => {
        const source = node.source ?? (node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument);
        check(node, source, true);
      },
      CallExpression(node) {
        const callee = node.callee;
        const isRequire = (callee.type === 'Identifier' && callee.name === 'require') ||
          (callee.type === 'MemberExpression' && !callee.computed && callee.property.name === 'require' &&
            callee.object.type === 'Identifier' && callee.object.name === 'module');
        if (isRequire) check(node, node.arguments[0], false);
      },
    };
  },
};

export { default } from "@attnkit/eslint-config";
